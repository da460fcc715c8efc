"""Classifier two-sample test and copy check: can musical features tell generated excerpts
from real held-out ones?

Features (``features``): the critic's fault rates (``generation.music.critic``), MusPy-style
metrics, rhythm (share of onsets on beats, distinct durations, longest note), melodic motion
of the top line (mean absolute interval, share of steps, of repeated notes, of leaps), and
repetition (share of bars whose top-line rhythm and pitches repeat an earlier bar). A
logistic regression (standardised features, L2, fitted with torch's L-BFGS) is scored by
stratified k-fold cross-validation; ``accuracy`` is the mean held-out fold accuracy:
0.5 = the classifier cannot tell the two sets apart, 1.0 = it always can.

``copy_rate``: the share of pieces whose top line shares a run of ``n`` consecutive
melodic intervals (and the rhythm under them) with some training piece. Generated music
should copy no more often than real held-out music does.
"""

from __future__ import annotations

import numpy as np
import torch

from generation.music.attributes import muspy_metrics
from generation.music.critic import critique, lines_of
from generation.music.notes import Piece

FEATURE_NAMES = [
    "parallels", "strong_dissonances", "crossings", "repeated_runs", "big_leaps",
    "out_of_key", "final_cadence", "pitch_class_entropy", "scale_consistency",
    "groove_consistency", "empty_beat_rate", "pitch_range", "polyphony", "on_beat",
    "distinct_durations", "longest_note", "mean_interval", "steps", "repeats", "leaps",
    "bar_repetition",
]


def features(piece: Piece) -> np.ndarray:
    c = critique(piece)
    per = max(1, c.notes) / 10
    m = muspy_metrics(piece)
    lines = lines_of(piece)
    top = lines[0] if lines else []
    onsets = np.array([n.onset for line in lines for n in line]) if lines else np.zeros(0)
    durs = np.array([n.duration for line in lines for n in line]) if lines else np.zeros(0)
    beat = 1.5 if piece.time_signature[1] == 8 and piece.time_signature[0] % 3 == 0 else \
        4 / piece.time_signature[1]
    pitches = np.array([n.pitch for n in top])
    iv = np.abs(np.diff(pitches)) if len(pitches) > 1 else np.zeros(1)
    bar = piece.bar_beats
    bars: dict[int, list] = {}
    for n in top:
        bars.setdefault(int(n.onset // bar), []).append((round(n.onset % bar, 3), n.pitch,
                                                          round(n.duration, 3)))
    seen, repeated = set(), 0
    for b in sorted(bars):
        sig = tuple(bars[b])
        repeated += sig in seen
        seen.add(sig)
    return np.array([
        c.parallels / per, c.strong_dissonances / per, c.crossings / per,
        c.repeated_runs / per, c.big_leaps / per, c.out_of_key, c.final_cadence,
        m["pitch_class_entropy"], m["scale_consistency"], m["groove_consistency"],
        m["empty_beat_rate"], m["pitch_range"], m["polyphony"],
        float(np.mean(np.isclose(onsets % beat, 0))) if onsets.size else 0.0,
        float(len(set(np.round(durs, 3)))), float(durs.max()) if durs.size else 0.0,
        float(iv.mean()), float(np.mean((iv >= 1) & (iv <= 2))), float(np.mean(iv == 0)),
        float(np.mean(iv > 4)), repeated / max(1, len(bars)),
    ], dtype=np.float64)


def _fit_predict(x_train, y_train, x_test, l2: float = 1e-2) -> np.ndarray:
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    xt = torch.tensor((x_train - mu) / sd)
    yt = torch.tensor(y_train, dtype=torch.float64)
    w = torch.zeros(xt.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) \
            + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        z = torch.tensor((x_test - mu) / sd) @ w + b
    return (z.numpy() > 0).astype(int)


def two_sample_accuracy(a: list[np.ndarray], b: list[np.ndarray], folds: int = 5,
                        seed: int = 0) -> float:
    """Cross-validated accuracy of telling feature rows ``a`` (label 0) from ``b`` (label 1),
    on balanced sets (the larger one is subsampled)."""
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b))
    if n < folds:
        raise ValueError(f"need at least {folds} pieces on each side, got {n}")
    ia, ib = rng.permutation(len(a))[:n], rng.permutation(len(b))[:n]
    x = np.vstack([np.array(a)[ia], np.array(b)[ib]])
    y = np.concatenate([np.zeros(n, int), np.ones(n, int)])
    fold_of = np.concatenate([rng.permutation(n) % folds, rng.permutation(n) % folds])
    correct = 0
    for k in range(folds):
        test = fold_of == k
        pred = _fit_predict(x[~test], y[~test], x[test])
        correct += int(np.sum(pred == y[test]))
    return correct / len(y)


def interval_runs(piece: Piece, n: int = 8) -> set[tuple]:
    """Runs of ``n`` consecutive (interval, duration) steps of the top line."""
    lines = lines_of(piece)
    if not lines:
        return set()
    top = lines[0]
    steps = [(b.pitch - a.pitch, round(a.duration, 3)) for a, b in zip(top[:-1], top[1:],
                                                                       strict=True)]
    return {tuple(steps[i:i + n]) for i in range(len(steps) - n + 1)}


def copy_rate(pieces: list[Piece], training_runs: set[tuple], n: int = 8) -> float:
    """Share of ``pieces`` whose top line shares a run with the training set."""
    if not pieces:
        return 0.0
    return float(np.mean([bool(interval_runs(p, n) & training_runs) for p in pieces]))
