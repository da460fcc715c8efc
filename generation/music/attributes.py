"""Musical attributes measured from a Piece's notes, and MusPy-style quality metrics.

Everything here is measured from the notes alone (never from written metadata), so the same
function judges a corpus piece, an upload and a generated piece alike. Pure numpy; drums are
ignored throughout.

``measure_attributes(piece)`` gives the conditioning attributes the models learn:

- ``mode``: "major" or "minor", Krumhansl-Schmuckler estimate (``generation.music.key``).
- ``key``: the estimated key, e.g. "D minor".
- ``density``: note onsets per quarter-note beat, all voices (a three-note chord is three
  onsets), over the piece's span from its first onset to its last note-off.
- ``density_band``: sparse/moderate/dense by the frozen edges in ``attributes_schema.json``
  (None while the edges are unset): the corpus-wide ones, or, with ``style=``, the tertiles
  within that style (v2 and its evaluation use those; v1 was trained on the corpus-wide ones).
- ``register``: mean MIDI pitch of all notes (each note counts once).
- ``register_band``: low/middle/high by the frozen edges (None while unset), within the style
  likewise.
- ``polyphony``: see ``muspy_metrics``.

``muspy_metrics(piece)`` follows the definitions of MusPy (Dong et al., 2020), re-implemented:

- ``pitch_class_entropy``: Shannon entropy in bits of the note-count histogram over the 12
  pitch classes (0 = one pitch class only, log2(12) ~ 3.585 = all equally used).
- ``scale_consistency``: the largest share of notes that fall in one major or natural minor
  scale, over all 24 scales (1.0 = entirely diatonic in some key).
- ``groove_consistency``: 1 minus the mean Hamming distance, divided by the bar length in
  grid steps, between the onset patterns of consecutive bars (grid: 12 steps a quarter;
  bar length of the piece's main meter, ``pianoroll.main_meter``, so that a one-beat pickup
  "meter" does not set the bar). 1.0 = every bar has the same rhythm.
- ``empty_beat_rate``: share of quarter-note beats in [0, end) during which no note sounds
  at all (neither starting nor held). MusPy counts beats without a note; we count a held
  note as filling its beats, which is what a listener hears as silence.
- ``pitch_range``: highest minus lowest MIDI pitch (semitones).
- ``polyphony``: mean number of notes sounding at once, over the time when at least one note
  sounds (exact: total note duration / length of the union of note intervals).

Empty pieces give zeros (entropy 0, consistency 0, empty_beat_rate 1.0 when it has length).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from generation.music import key as key_mod
from generation.music import schema
from generation.music.notes import Piece
from generation.music.pianoroll import main_meter

GROOVE_STEPS_PER_QUARTER = 12

_MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
_MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)


def _note_arrays(piece: Piece) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(onsets, durations, pitches) of all pitched notes, as float/float/int arrays."""
    notes = piece.all_notes(include_drums=False)
    if not notes:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    arr = np.array([(n.onset, n.duration, n.pitch) for n in notes], dtype=np.float64)
    return arr[:, 0], arr[:, 1], arr[:, 2].astype(np.int64)


def _union_length(onsets: np.ndarray, ends: np.ndarray) -> float:
    """Length of the union of intervals [onset, end)."""
    if onsets.size == 0:
        return 0.0
    order = np.argsort(onsets, kind="stable")
    on, off = onsets[order], ends[order]
    run_end = np.maximum.accumulate(off)
    # a new run starts where an onset lies after every earlier interval's end
    starts_new = np.empty(on.size, dtype=bool)
    starts_new[0] = True
    starts_new[1:] = on[1:] > run_end[:-1]
    run_ids = np.cumsum(starts_new) - 1
    run_start = on[starts_new]
    run_stop = np.zeros(run_start.size)
    np.maximum.at(run_stop, run_ids, off)
    return float(np.sum(run_stop - run_start))


def polyphony(piece: Piece) -> float:
    """Mean number of notes sounding at once while anything sounds (0.0 for no notes)."""
    onsets, durs, _ = _note_arrays(piece)
    union = _union_length(onsets, onsets + durs)
    return float(durs.sum() / union) if union > 0 else 0.0


def pitch_class_entropy(piece: Piece) -> float:
    """Entropy (bits) of the pitch-class histogram of note counts."""
    _, _, pitches = _note_arrays(piece)
    if pitches.size == 0:
        return 0.0
    hist = np.bincount(pitches % 12, minlength=12).astype(np.float64)
    p = hist[hist > 0] / hist.sum()
    return float(-(p * np.log2(p)).sum())


def scale_consistency(piece: Piece) -> float:
    """Largest share of notes inside one major or natural-minor scale (24 candidates)."""
    _, _, pitches = _note_arrays(piece)
    if pitches.size == 0:
        return 0.0
    hist = np.bincount(pitches % 12, minlength=12)
    best = 0
    for tonic in range(12):
        for steps in (_MAJOR_STEPS, _MINOR_STEPS):
            best = max(best, int(sum(hist[(tonic + s) % 12] for s in steps)))
    return best / pitches.size


def groove_consistency(piece: Piece) -> float:
    """1 - mean normalised Hamming distance between consecutive bars' onset patterns."""
    onsets, _, _ = _note_arrays(piece)
    if onsets.size == 0:
        return 0.0
    num, den = main_meter(piece)
    bar_steps = max(1, int(round(num * 4 / den * GROOVE_STEPS_PER_QUARTER)))
    steps = np.round(onsets * GROOVE_STEPS_PER_QUARTER).astype(np.int64)
    steps = steps[steps >= 0]
    n_bars = int(steps.max() // bar_steps) + 1
    if n_bars < 2:
        return 1.0
    grid = np.zeros(n_bars * bar_steps, dtype=bool)
    grid[steps] = True
    bars = grid.reshape(n_bars, bar_steps)
    hamming = np.count_nonzero(bars[1:] != bars[:-1], axis=1) / bar_steps
    return float(1.0 - hamming.mean())


def empty_beat_rate(piece: Piece) -> float:
    """Share of quarter-note beats in [0, end) during which no note sounds."""
    onsets, durs, _ = _note_arrays(piece)
    n_beats = int(np.ceil(piece.end_beat - 1e-9)) if onsets.size else 0
    if n_beats <= 0:
        return 0.0
    # difference array over beats: +1 at the first beat a note touches, -1 after its last
    first = np.floor(onsets + 1e-9).astype(np.int64).clip(0, n_beats)
    last = np.ceil(onsets + durs - 1e-9).astype(np.int64).clip(0, n_beats)  # exclusive
    diff = np.zeros(n_beats + 1, dtype=np.int64)
    np.add.at(diff, first, 1)
    np.add.at(diff, last, -1)
    covered = np.cumsum(diff)[:n_beats] > 0
    return float(1.0 - covered.mean())


def pitch_range(piece: Piece) -> int:
    """Highest minus lowest MIDI pitch (0 for no notes)."""
    _, _, pitches = _note_arrays(piece)
    return int(pitches.max() - pitches.min()) if pitches.size else 0


def muspy_metrics(piece: Piece) -> dict[str, float]:
    """The six MusPy-style metrics named in the module docstring."""
    return {
        "pitch_class_entropy": pitch_class_entropy(piece),
        "scale_consistency": scale_consistency(piece),
        "groove_consistency": groove_consistency(piece),
        "empty_beat_rate": empty_beat_rate(piece),
        "pitch_range": float(pitch_range(piece)),
        "polyphony": polyphony(piece),
    }


def density(piece: Piece) -> float:
    """Note onsets per quarter-note beat, all voices, over first onset .. last note-off."""
    onsets, durs, _ = _note_arrays(piece)
    if onsets.size == 0:
        return 0.0
    span = float((onsets + durs).max() - onsets.min())
    return float(onsets.size / span) if span > 0 else 0.0


def register(piece: Piece) -> float:
    """Mean MIDI pitch of all notes (0.0 for no notes)."""
    _, _, pitches = _note_arrays(piece)
    return float(pitches.mean()) if pitches.size else 0.0


def measure_attributes(piece: Piece, style: str | None = None) -> dict[str, Any]:
    """Conditioning attributes plus the MusPy-style metrics, measured from the notes; the
    density and register bands are those within ``style`` when given (``schema.band_edges``).

    Keys: mode, key, density, density_band, register, register_band, polyphony, and
    pitch_class_entropy, scale_consistency, groove_consistency, empty_beat_rate, pitch_range.
    Bands are None while the schema's edges are unset.
    """
    est_key = key_mod.estimate_key(piece)
    dens = density(piece)
    reg = register(piece)
    out: dict[str, Any] = {
        "mode": est_key.split()[1],
        "key": est_key,
        "density": round(dens, 4),
        "density_band": schema.density_band(dens, style),
        "register": round(reg, 4),
        "register_band": schema.register_band(reg, style),
    }
    out.update({k: round(v, 4) for k, v in muspy_metrics(piece).items()})
    return out
