"""Statistics for listening evaluation: plain functions over plain data (numpy only, no
Django), so they can be checked on examples worked by hand.

- ``mean_with_ci``: the mean of all scores with a 95% interval from a seeded bootstrap that
  resamples *raters* (a cluster bootstrap): one listener's answers are not independent of
  each other, so resampling single answers would give intervals that are too narrow.
- ``gap_with_ci``: the difference of two groups' means (e.g. a model minus the human
  references), with the same rater-clustered bootstrap over the raters of either group.
- ``bradley_terry``: strengths from pairwise wins (the MM algorithm of Hunter, 2004), and
  ``bradley_terry_with_ci`` adds percentile intervals on the log-strengths from the same
  rater-clustered bootstrap.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
BOOTSTRAP_SAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


def mean_with_ci(
    scores_by_rater: Mapping[Hashable, Sequence[float]],
    *,
    seed: int = 0,
    samples: int = BOOTSTRAP_SAMPLES,
    level: float = LEVEL,
) -> Estimate | None:
    """Mean of every score, and a percentile interval from ``samples`` bootstrap draws of
    raters with replacement (each draw pools the drawn raters' scores). None when there are
    no scores. The same ``seed`` gives the same interval."""
    groups = [np.asarray(v, dtype=float) for v in scores_by_rater.values() if len(v)]
    if not groups:
        return None
    sums = np.array([g.sum() for g in groups])
    counts = np.array([len(g) for g in groups])
    value = float(sums.sum() / counts.sum())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(groups), size=(samples, len(groups)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = _interval(means, level)
    return Estimate(value, low, high)


def gap_with_ci(
    a_by_rater: Mapping[Hashable, Sequence[float]],
    b_by_rater: Mapping[Hashable, Sequence[float]],
    *,
    seed: int = 0,
    samples: int = BOOTSTRAP_SAMPLES,
    level: float = LEVEL,
) -> Estimate | None:
    """mean(a) - mean(b), with raters of either group resampled together (a rater who heard
    both keeps both sets of answers in a draw). None when either side is empty."""
    raters = sorted(set(a_by_rater) | set(b_by_rater), key=str)
    a = np.array([[sum(a_by_rater.get(r, ())), len(a_by_rater.get(r, ()))] for r in raters],
                 dtype=float)
    b = np.array([[sum(b_by_rater.get(r, ())), len(b_by_rater.get(r, ()))] for r in raters],
                 dtype=float)
    if not raters or a[:, 1].sum() == 0 or b[:, 1].sum() == 0:
        return None
    value = a[:, 0].sum() / a[:, 1].sum() - b[:, 0].sum() / b[:, 1].sum()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(raters), size=(samples, len(raters)))
    a_n, b_n = a[picks, 1].sum(axis=1), b[picks, 1].sum(axis=1)
    ok = (a_n > 0) & (b_n > 0)  # a draw without one side says nothing about the gap
    gaps = a[picks, 0].sum(axis=1)[ok] / a_n[ok] - b[picks, 0].sum(axis=1)[ok] / b_n[ok]
    low, high = _interval(gaps, level)
    return Estimate(float(value), low, high)


def win_matrix(items: Sequence[Hashable], comparisons: Sequence[tuple[Hashable, Hashable]]
               ) -> np.ndarray:
    """wins[i, j]: how often items[i] beat items[j]; comparisons are (winner, loser)."""
    index = {item: k for k, item in enumerate(items)}
    wins = np.zeros((len(items), len(items)))
    for winner, loser in comparisons:
        wins[index[winner], index[loser]] += 1
    return wins


def _mm(wins: np.ndarray, p: np.ndarray, iterations: int, tolerance: float) -> np.ndarray:
    """Hunter's MM updates for one win matrix (n, n) or a stack of them (S, n, n), from the
    strengths ``p`` ((n,) or (S, n)); strengths keep a geometric mean of 1."""
    games = wins + np.swapaxes(wins, -1, -2)
    total_wins = wins.sum(axis=-1)
    for _ in range(iterations):
        denom = (games / (p[..., :, None] + p[..., None, :])).sum(axis=-1)
        new = np.where(denom > 0, total_wins / np.where(denom > 0, denom, 1), p)
        new = np.maximum(new, 1e-12)
        new = new / np.exp(np.log(new).mean(axis=-1, keepdims=True))
        done = np.max(np.abs(new - p)) < tolerance
        p = new
        if done:
            break
    return p


def bradley_terry(
    items: Sequence[Hashable],
    comparisons: Sequence[tuple[Hashable, Hashable]],
    *,
    prior: float = 0.0,
    iterations: int = 10000,
    tolerance: float = 1e-12,
) -> dict[Hashable, float]:
    """Bradley-Terry strengths p (P(i beats j) = p_i / (p_i + p_j)), scaled so that their
    geometric mean is 1, by Hunter's MM updates p_i <- W_i / sum_j n_ij / (p_i + p_j).

    ``prior`` adds that many virtual wins each way to every pair that met, which keeps an
    item that never won (or never lost) finite. Items that met nobody get strength 1."""
    wins = win_matrix(items, comparisons)
    wins = wins + prior * ((wins + wins.T) > 0)
    p = _mm(wins, np.ones(len(items)), iterations, tolerance)
    return {item: float(p[k]) for k, item in enumerate(items)}


def bradley_terry_with_ci(
    items: Sequence[Hashable],
    comparisons_by_rater: Mapping[Hashable, Sequence[tuple[Hashable, Hashable]]],
    *,
    prior: float = 0.5,
    seed: int = 0,
    samples: int = 1000,
    level: float = LEVEL,
) -> dict[Hashable, Estimate]:
    """Log-strengths (log p, geometric mean 0) with percentile intervals from a bootstrap
    that resamples raters (all draws solved together, from the point estimate)."""
    raters = list(comparisons_by_rater)
    everything = [c for r in raters for c in comparisons_by_rater[r]]
    point = bradley_terry(items, everything, prior=prior)
    if not raters:
        return {item: Estimate(0.0, 0.0, 0.0) for item in items}
    per_rater = np.stack([win_matrix(items, comparisons_by_rater[r]) for r in raters])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(raters), size=(samples, len(raters)))
    counts = np.stack([np.bincount(row, minlength=len(raters)) for row in picks])
    wins = np.tensordot(counts, per_rater, axes=1)  # (S, n, n)
    wins = wins + prior * ((wins + np.swapaxes(wins, 1, 2)) > 0)
    start = np.tile(np.array([point[item] for item in items]), (samples, 1))
    logs = np.log(_mm(wins, start, 10000, 1e-12))
    out = {}
    for k, item in enumerate(items):
        low, high = _interval(logs[:, k], level)
        out[item] = Estimate(float(np.log(point[item])), low, high)
    return out
