"""Data augmentation for training: transposition and tempo scaling.

- Transposition moves every pitched note by the same number of semitones, and only by a
  shift that keeps all of them inside an instrument range: by default the piano, MIDI 21..108;
  pass ``ROLL_RANGE`` (24..107) for piano-roll training so nothing falls off the roll.
  Drums are never transposed. The written key, if any, is transposed with the notes.
- Tempo is a rendering parameter, not something the models learn from note positions: scaling
  the tempo multiplies every BPM of the tempo map and leaves the notes (in beats) untouched.

All functions return new Pieces and never change their argument.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from generation.music.notes import Part, Piece
from generation.music.pianoroll import PITCH_HIGH, PITCH_LOW

PIANO_RANGE = (21, 108)
ROLL_RANGE = (PITCH_LOW, PITCH_HIGH)
MIN_BPM, MAX_BPM = 30.0, 240.0  # the schema's tempo_bpm range

_PITCH_NAMES = ["C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B"]
_NAME_TO_PC = {"C": 0, "C#": 1, "D-": 1, "D": 2, "D#": 3, "E-": 3, "E": 4, "F": 5, "F#": 6,
               "G-": 6, "G": 7, "G#": 8, "A-": 8, "A": 9, "A#": 10, "B-": 10, "B": 11,
               "C-": 11, "E#": 5, "B#": 0, "F-": 4}


def pitch_span(piece: Piece) -> tuple[int, int] | None:
    """(lowest, highest) pitched MIDI note, or None for a piece without pitched notes."""
    pitches = [n.pitch for p in piece.parts if not p.is_drum for n in p.notes]
    return (min(pitches), max(pitches)) if pitches else None


def allowed_shifts(piece: Piece, pitch_range: tuple[int, int] = PIANO_RANGE) -> range:
    """Every semitone shift that keeps all pitched notes inside ``pitch_range`` (inclusive).

    A piece whose span is wider than the range gets an empty range; a piece without pitched
    notes allows only 0.
    """
    span = pitch_span(piece)
    if span is None:
        return range(0, 1)
    lo, hi = pitch_range
    return range(lo - span[0], hi - span[1] + 1)


def _transpose_key(key: str | None, semitones: int) -> str | None:
    if not key:
        return key
    try:
        tonic, mode = key.split()
        pc = _NAME_TO_PC[tonic[0].upper() + tonic[1:].replace("b", "-")]
    except (ValueError, KeyError):
        return None  # unknown spelling: better no key than a wrong one
    return f"{_PITCH_NAMES[(pc + semitones) % 12]} {mode}"


def transpose(piece: Piece, semitones: int,
              pitch_range: tuple[int, int] | None = PIANO_RANGE) -> Piece:
    """The piece moved by ``semitones``. Raises ValueError if a note would leave
    ``pitch_range`` (pass None to skip the check)."""
    semitones = int(semitones)
    if pitch_range is not None and semitones not in allowed_shifts(piece, pitch_range):
        raise ValueError(f"shift {semitones:+d} takes notes outside MIDI "
                         f"{pitch_range[0]}..{pitch_range[1]}")
    parts = [p if p.is_drum else
             Part(notes=[replace(n, pitch=n.pitch + semitones) for n in p.notes],
                  program=p.program, is_drum=False, name=p.name)
             for p in piece.parts]
    return replace(piece, parts=parts, key=_transpose_key(piece.key, semitones))


def random_transpose(piece: Piece, rng: np.random.Generator, max_shift: int = 6,
                     pitch_range: tuple[int, int] = PIANO_RANGE) -> tuple[Piece, int]:
    """Transpose by a shift drawn uniformly from the allowed shifts within +-``max_shift``.

    Returns (piece, shift); shift 0 (the piece unchanged) when no other shift is allowed.
    """
    allowed = [s for s in allowed_shifts(piece, pitch_range) if abs(s) <= max_shift]
    if not allowed:
        return piece, 0
    shift = int(rng.choice(allowed))
    return (transpose(piece, shift, pitch_range) if shift else piece), shift


def scale_tempo(piece: Piece, factor: float) -> Piece:
    """Every tempo of the tempo map multiplied by ``factor`` (>0), clipped to 30..240 BPM;
    the notes (in beats) and meter are untouched."""
    if factor <= 0:
        raise ValueError("tempo factor must be positive")
    tempos = [(b, float(np.clip(bpm * factor, MIN_BPM, MAX_BPM))) for b, bpm in piece.tempos]
    return replace(piece, tempos=tempos)


def random_tempo(piece: Piece, rng: np.random.Generator, low: float = 0.8,
                 high: float = 1.25) -> tuple[Piece, float]:
    """Scale the tempo by a factor drawn log-uniformly from [low, high]; returns (piece,
    factor)."""
    factor = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    return scale_tempo(piece, factor), factor


def augment(piece: Piece, rng: np.random.Generator, max_shift: int = 6,
            tempo_range: tuple[float, float] = (0.8, 1.25),
            pitch_range: tuple[int, int] = PIANO_RANGE) -> Piece:
    """One random augmentation: a transposition within range and a tempo scaling."""
    out, _ = random_transpose(piece, rng, max_shift, pitch_range)
    out, _ = random_tempo(out, rng, *tempo_range)
    return out
