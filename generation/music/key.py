"""Key and mode estimation for a Piece (Krumhansl-Schmuckler profile correlation).

Fast (pure numpy, no music21 parse), so it can judge every generated piece in evaluation
and every upload. Pitch classes are weighted by duration; drums are ignored.
"""

from __future__ import annotations

import numpy as np

from generation.music.notes import Piece

# Krumhansl & Kessler (1982) probe-tone profiles, C major and C minor.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_NAMES = ["C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B"]


def _unit_rows(m: np.ndarray) -> np.ndarray:
    m = m - m.mean(axis=1, keepdims=True)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


# (24, 12): the profile of every key in ``key_scores`` order (C major, C minor, C# major, ...),
# centred and scaled to unit length, so that a dot product with a centred, unit histogram is
# the Pearson correlation ``key_scores`` computes.
KEY_PROFILES = _unit_rows(np.stack([np.roll(profile, tonic) for tonic in range(12)
                                    for profile in (_MAJOR, _MINOR)]))


def key_correlations(hists: np.ndarray) -> np.ndarray:
    """(N, 12) pitch-class histograms -> (N, 24) correlations with every key, in
    ``key_scores`` order (row i is tonic i // 2, major when i is even). A flat histogram
    correlates 0 with every key."""
    h = np.asarray(hists, dtype=np.float64)
    h = h - h.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(h, axis=1, keepdims=True)
    return (h / np.where(norm > 0, norm, 1.0)) @ KEY_PROFILES.T


def pitch_class_histogram(piece: Piece, weighted: bool = True) -> np.ndarray:
    """Twelve numbers, the share of sounding time (or of notes) on each pitch class."""
    hist = np.zeros(12)
    for n in piece.all_notes(include_drums=False):
        hist[n.pitch % 12] += n.duration if weighted else 1.0
    total = hist.sum()
    return hist / total if total > 0 else hist


def key_scores(piece: Piece) -> list[tuple[float, str, str]]:
    """(correlation, tonic, mode) for all 24 keys, best first."""
    hist = pitch_class_histogram(piece)
    if not hist.any():
        return [(0.0, "C", "major")]
    out = []
    for tonic in range(12):
        for mode, profile in (("major", _MAJOR), ("minor", _MINOR)):
            r = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
            out.append((r, _NAMES[tonic], mode))
    out.sort(key=lambda x: -x[0])
    return out


def estimate_key(piece: Piece) -> str:
    """The most likely key, e.g. "D minor" (music21 spelling of flats: "B- major")."""
    _, tonic, mode = key_scores(piece)[0]
    return f"{tonic} {mode}"


def estimate_mode(piece: Piece) -> str:
    """"major" or "minor"."""
    return key_scores(piece)[0][2]
