"""The baseline: a 5-gram token model with interpolated Kneser-Ney smoothing (own code).

Chen & Goodman's interpolated Kneser-Ney, one absolute discount per order (tuned on the
validation split by coordinate search). The highest order uses raw counts; lower orders use
continuation counts (how many distinct tokens precede an n-gram), and the unigram level is
interpolated with the uniform distribution, so every token has a probability > 0.

Everything is numpy: n-grams are packed into int64 keys (9 bits a token, so up to 512 token
types and order 7), counted with ``np.unique`` and looked up with ``np.searchsorted``, which
keeps training on millions of tokens to seconds and scoring vectorized.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

BITS = 9
PAD = 0  # the history before a sequence's first token is padding (token 0)


def _pack(cols: list[np.ndarray]) -> np.ndarray:
    key = np.zeros(len(cols[0]), dtype=np.int64)
    for c in cols:
        key = (key << BITS) | c.astype(np.int64)
    return key


def _contexts(seqs: Sequence[np.ndarray], order: int) -> np.ndarray:
    """(N, order) rows: the order-1 preceding tokens (padded) and the token, per position
    1.. of every sequence (the first token, BOS, is given, not predicted)."""
    rows = []
    for s in seqs:
        s = np.asarray(s, dtype=np.int64)
        padded = np.concatenate([np.full(order - 1, PAD, dtype=np.int64), s])
        idx = np.arange(1, len(s))[:, None] + np.arange(order)[None, :]
        rows.append(padded[idx])
    return np.concatenate(rows) if rows else np.zeros((0, order), dtype=np.int64)


@dataclass
class _Level:
    keys: np.ndarray  # sorted packed (history, token) keys of this order
    counts: np.ndarray  # count (highest order) or continuation count (lower orders)
    hist_keys: np.ndarray  # sorted packed histories
    hist_total: np.ndarray  # sum of counts over tokens following the history
    hist_types: np.ndarray  # number of distinct tokens following the history


@dataclass
class KneserNey:
    order: int = 5
    vocab_size: int = 512
    discounts: list[float] = field(default_factory=list)  # one per order, 1..order
    levels: list[_Level] = field(default_factory=list, repr=False)

    def fit(self, seqs: Sequence[np.ndarray]) -> KneserNey:
        assert self.vocab_size <= 1 << BITS and self.order * BITS <= 63
        grams = _contexts(seqs, self.order)
        self.levels = []
        # highest order: raw counts; lower orders: continuation counts
        keys_n, counts_n = np.unique(_pack(list(grams.T)), return_counts=True)
        uniq = grams[np.unique(_pack(list(grams.T)), return_index=True)[1]]
        levels: dict[int, tuple[np.ndarray, np.ndarray]] = {self.order: (keys_n, counts_n)}
        for k in range(self.order - 1, 0, -1):
            # distinct (k+1)-grams, each counted once for the k-gram it ends with
            prev = np.unique(uniq[:, -(k + 1):], axis=0)
            keys, counts = np.unique(_pack(list(prev[:, 1:].T)), return_counts=True)
            levels[k] = (keys, counts)
        for k in range(1, self.order + 1):
            keys, counts = levels[k]
            hist = keys >> BITS
            hk, start = np.unique(hist, return_index=True)
            total = np.add.reduceat(counts, start) if len(counts) else counts
            types = np.diff(np.append(start, len(keys)))
            self.levels.append(_Level(keys, counts, hk, total, types))
        if not self.discounts:
            self.discounts = [0.75] * self.order
        return self

    def _lookup(self, sorted_keys: np.ndarray, values: np.ndarray, q: np.ndarray):
        i = np.searchsorted(sorted_keys, q)
        i = np.minimum(i, max(len(sorted_keys) - 1, 0))
        hit = (sorted_keys[i] == q) if len(sorted_keys) else np.zeros(len(q), bool)
        return np.where(hit, values[i] if len(values) else 0, 0)

    def token_probs(self, seqs: Sequence[np.ndarray]) -> np.ndarray:
        """P(token | the order-1 tokens before it) for positions 1.. of every sequence."""
        return self._probs(_contexts(seqs, self.order))

    def _probs(self, grams: np.ndarray) -> np.ndarray:
        p = np.full(len(grams), 1.0 / self.vocab_size)
        for k in range(1, self.order + 1):
            lv, d = self.levels[k - 1], self.discounts[k - 1]
            g = grams[:, -k:]
            c = self._lookup(lv.keys, lv.counts, _pack(list(g.T))).astype(np.float64)
            hq = _pack(list(g[:, :-1].T)) if k > 1 else np.zeros(len(g), dtype=np.int64)
            total = self._lookup(lv.hist_keys, lv.hist_total, hq).astype(np.float64)
            types = self._lookup(lv.hist_keys, lv.hist_types, hq).astype(np.float64)
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            mixed = (np.maximum(c - d, 0.0) + d * types * p) / safe
            p = np.where(seen, mixed, p)
        return p

    def nll_bits(self, seqs: Sequence[np.ndarray], skip: int = 0) -> tuple[float, int]:
        """(total bits, scored tokens) over positions >= ``skip`` + 1 of each sequence."""
        total, n = 0.0, 0
        for s in seqs:
            p = self.token_probs([s])[skip:]
            total += float(-np.log2(p).sum())
            n += len(p)
        return total, n

    def tune(self, valid: Sequence[np.ndarray],
             grid=(0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)) -> list[float]:
        """Coordinate search of the per-order discounts on validation sequences."""
        grams = _contexts(valid, self.order)

        def loss() -> float:
            return float(-np.log2(self._probs(grams)).mean())

        best = loss()
        for _ in range(2):
            for k in range(self.order):
                for d in grid:
                    old = self.discounts[k]
                    self.discounts[k] = d
                    val = loss()
                    if val < best - 1e-9:
                        best = val
                    else:
                        self.discounts[k] = old
        return self.discounts
