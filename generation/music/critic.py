"""A musical critic: the faults a listener hears first, counted from the notes.

Used three ways, with the same code: to pick among sampled candidates (``penalty``), as the
features of the two-sample test in the evaluation, and to count voice-leading faults of
harmonizations against Bach's own. Everything is measured on a Piece's lines (parts ordered
from the highest to the lowest mean pitch), on a sixteenth-note grid.

Counts (``critique``):
- ``parallels``: consecutive perfect fifths or octaves (unisons) between two voices that
  both move, in the same direction, from one onset to the next common onset;
- ``strong_dissonances``: on a beat, a note attacked there that forms a second, seventh or
  tritone with the bass (or, in two voices, with the other voice), not prepared by the same
  pitch sounding just before;
- ``crossings``: frames where a voice sounds below the voice under it;
- ``repeated_runs``: runs of more than four attacks of one pitch in a row in one line;
- ``big_leaps``: melodic leaps larger than an octave;
- ``out_of_key``: share of notes outside the diatonic scale of the estimated key;
- ``silent_bars``: with several parts, the (part, bar) pairs in which a part sounds no note
  at all (a voice that drops out of a chorale for a bar, or for the whole piece);
- ``final_cadence``: 1 when the last bass (or melody) note is the key's tonic and, with
  several voices, the last sonority contains no dissonance; else 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generation.music.key import key_scores
from generation.music.notes import Piece

STEP = 0.25  # grid of the analysis, in quarter-note beats
_DISSONANT = {1, 2, 6, 10, 11}
_NAMES = {"C": 0, "C#": 1, "D": 2, "E-": 3, "E": 4, "F": 5, "F#": 6, "G": 7, "A-": 8, "A": 9,
          "B-": 10, "B": 11}
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10, 11)  # harmonic minor's leading tone counts as in key


@dataclass
class Critique:
    notes: int
    voices: int
    parallels: int
    strong_dissonances: int
    crossings: int
    repeated_runs: int
    big_leaps: int
    out_of_key: float
    final_cadence: int
    silent_bars: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def lines_of(piece: Piece) -> list[list]:
    """The piece's lines, highest first (the codec's ``voice_lines``)."""
    from generation.music.grid import voice_lines

    return voice_lines(piece)


def _roll(lines: list[list], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(V, n) sounding pitch (-1 = silent) and (V, n) attack flags on the grid."""
    pitch = np.full((len(lines), n), -1, dtype=np.int64)
    attack = np.zeros((len(lines), n), dtype=bool)
    for v, line in enumerate(lines):
        for note in line:
            a = int(round(note.onset / STEP))
            b = max(a + 1, int(round((note.onset + note.duration) / STEP)))
            if 0 <= a < n:
                pitch[v, a:min(b, n)] = note.pitch
                attack[v, a] = True
    return pitch, attack


def _key(piece: Piece) -> tuple[int, str]:
    _, tonic, mode = key_scores(piece)[0]
    return _NAMES.get(tonic, 0), mode


def critique(piece: Piece, key: tuple[int, str] | None = None,
             bars: int | None = None) -> Critique:
    """The piece's faults; ``key`` (tonic pitch class, "major" | "minor") where it is known,
    else estimated from the notes; ``bars`` where the piece is known to last that many bars
    (its notes may end earlier)."""
    lines = lines_of(piece)
    n_notes = sum(len(line) for line in lines)
    if not n_notes:
        return Critique(0, 0, 0, 0, 0, 0, 0, 0.0, 0)
    end = max(n.onset + n.duration for line in lines for n in line)
    n = int(round(end / STEP)) + 1
    pitch, attack = _roll(lines, n)
    V = len(lines)
    num, den = piece.time_signature
    beat = int(round((1.5 if den == 8 and num % 3 == 0 else 4 / den) / STEP))
    parallels = crossings = dissonances = 0
    if V > 1:
        for a in range(V):
            for b in range(a + 1, V):
                both = np.flatnonzero((attack[a] | attack[b]) & (pitch[a] >= 0) & (pitch[b] >= 0))
                for i, j in zip(both[:-1], both[1:], strict=True):
                    da, db = pitch[a, j] - pitch[a, i], pitch[b, j] - pitch[b, i]
                    if da == 0 or db == 0 or np.sign(da) != np.sign(db):
                        continue
                    iv1 = (pitch[a, i] - pitch[b, i]) % 12
                    iv2 = (pitch[a, j] - pitch[b, j]) % 12
                    if iv1 == iv2 and iv1 in (0, 7):
                        parallels += 1
        for a in range(V - 1):
            both = (pitch[a] >= 0) & (pitch[a + 1] >= 0)
            crossings += int(np.sum(both & (pitch[a] < pitch[a + 1])))
        bass = V - 1
        for t in range(0, n, beat):
            if pitch[bass, t] < 0:
                continue
            for v in range(V - 1):
                if not attack[v, t] or pitch[v, t] < 0:
                    continue
                iv = (pitch[v, t] - pitch[bass, t]) % 12
                prepared = t > 0 and pitch[v, t - 1] == pitch[v, t]
                if iv in _DISSONANT and not prepared:
                    dissonances += 1
    runs = leaps = 0
    for line in lines:
        ps = [x.pitch for x in line]
        same = 1
        for p, q in zip(ps[:-1], ps[1:], strict=True):
            same = same + 1 if p == q else 1
            if same == 5:
                runs += 1
            if abs(q - p) > 12:
                leaps += 1
    tonic, mode = key if key is not None else _key(piece)
    scale = {(tonic + s) % 12 for s in (_MAJOR if mode == "major" else _MINOR)}
    out = sum(1 for line in lines for x in line if x.pitch % 12 not in scale) / n_notes
    last_bass = max(lines[-1], key=lambda x: x.onset)
    cadence = int(last_bass.pitch % 12 == tonic)
    if V > 1 and cadence:
        t = n - 2
        sounding = [pitch[v, t] for v in range(V) if pitch[v, t] >= 0]
        if any((p - pitch[-1, t]) % 12 in _DISSONANT for p in sounding[:-1]):
            cadence = 0
    return Critique(n_notes, V, parallels, dissonances, crossings, runs, leaps, round(out, 4),
                    cadence, _silent_bars(piece, bars))


def _silent_bars(piece: Piece, bars: int | None = None) -> int:
    parts = [p for p in piece.parts if not p.is_drum]
    if len(parts) < 2:
        return 0
    bar = piece.bar_beats
    bars = bars or piece.bars
    silent = 0
    for part in parts:
        sounding = np.zeros(bars, dtype=bool)
        for note in part.notes:
            a = int(note.onset // bar)
            b = int(math.ceil((note.onset + note.duration) / bar - 1e-9))
            sounding[max(0, a):min(bars, max(b, a + 1))] = True
        silent += int(bars - sounding.sum())
    return silent


def penalty(c: Critique, bars: int, ends: bool = True) -> float:
    """One number, lower is better: faults per bar, weighted by how much each one is heard;
    a missing final cadence counts only where the music ``ends``."""
    per_bar = max(1, bars)
    return ((2.0 * c.parallels + 1.5 * c.strong_dissonances + 0.2 * c.crossings
             + 2.0 * c.repeated_runs + 2.0 * c.big_leaps + 1.0 * c.silent_bars) / per_bar
            + 4.0 * c.out_of_key + (1.5 * (1 - c.final_cadence) if ends else 0.0))
