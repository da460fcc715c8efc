"""The evaluation statistics on examples worked by hand."""
from __future__ import annotations

import math

import pytest

from studio.evalstats import bradley_terry, bradley_terry_with_ci, gap_with_ci, mean_with_ci

# three listeners: r1 gave 5 and 4, r2 gave 2, r3 gave 3 three times
BY_RATER = {"r1": [5, 4], "r2": [2], "r3": [3, 3, 3]}


def test_the_mean_counts_every_answer():
    assert mean_with_ci(BY_RATER).value == pytest.approx(20 / 6)
    assert mean_with_ci({}) is None


def test_the_bootstrap_resamples_raters_and_its_bounds_match_the_exact_distribution():
    """Drawing 3 raters from 3 with replacement has 27 equally likely outcomes. The lowest
    pooled mean, 2.0 (r2 three times), has probability 1/27 = 3.7% > 2.5%, and the highest,
    4.5 (r1 three times), too: so the exact 95% percentile interval is [2.0, 4.5]."""
    est = mean_with_ci(BY_RATER, seed=7, samples=4000)
    assert est.low == pytest.approx(2.0, abs=0.05)
    assert est.high == pytest.approx(4.5, abs=0.05)
    # a bootstrap over single answers would not reach 2.0 this often: clustering matters
    assert mean_with_ci(BY_RATER, seed=7, samples=4000) == est  # seeded: the same interval
    assert mean_with_ci(BY_RATER, seed=8, samples=4000).value == est.value


def test_the_gap_between_two_groups_is_the_difference_of_means():
    model = {"r1": [2, 2], "r2": [3]}
    human = {"r1": [4], "r2": [5, 5]}
    gap = gap_with_ci(model, human, seed=1, samples=1000)
    assert gap.value == pytest.approx(7 / 3 - 14 / 3)
    assert gap.low <= gap.value <= gap.high < 0
    assert gap_with_ci(model, {}) is None


def test_bradley_terry_recovers_strengths_from_counts_that_fit_them_exactly():
    """With strengths 4 : 2 : 1, A beats B 2 of 3 times, B beats C 2 of 3 and A beats C 4 of
    5. The likelihood equations W_i = sum_j n_ij p_i / (p_i + p_j) hold exactly at (4, 2, 1):
    A: 6 = 3*4/6 + 5*4/5; B: 3 = 3*2/6 + 3*2/3; C: 2 = 5*1/5 + 3*1/3."""
    comps = ([("A", "B")] * 2 + [("B", "A")] + [("B", "C")] * 2 + [("C", "B")]
             + [("A", "C")] * 4 + [("C", "A")])
    p = bradley_terry(["A", "B", "C"], comps)
    scale = (4 * 2 * 1) ** (1 / 3)  # geometric mean 1
    assert p["A"] == pytest.approx(4 / scale, rel=1e-6)
    assert p["B"] == pytest.approx(2 / scale, rel=1e-6)
    assert p["C"] == pytest.approx(1 / scale, rel=1e-6)


def test_bradley_terry_intervals_order_a_clear_winner_first_and_stay_finite():
    # every rater prefers A to B and B to C; C never wins (the prior keeps it finite)
    by_rater = {f"r{i}": [("A", "B"), ("B", "C"), ("A", "C")] for i in range(8)}
    est = bradley_terry_with_ci(["A", "B", "C"], by_rater, seed=3, samples=200)
    assert est["A"].value > est["B"].value > est["C"].value
    assert all(math.isfinite(e.low) and math.isfinite(e.high) for e in est.values())
    for e in est.values():  # the same answers in every draw: a point-sized interval
        assert e.low == pytest.approx(e.value) and e.high == pytest.approx(e.value)


def test_bradley_terry_intervals_widen_when_raters_disagree():
    by_rater = {"r0": [("A", "B")] * 3, "r1": [("B", "A")] * 2, "r2": [("A", "B")] * 2}
    est = bradley_terry_with_ci(["A", "B"], by_rater, seed=3, samples=400)
    assert est["A"].low < est["A"].value < est["A"].high
    assert est["A"].value == pytest.approx(math.log(math.sqrt(5.5 / 2.5)))  # prior 0.5 each way
