"""The piano roll as rows of a table: what the picture shows, for a screen reader or anyone
who wants the notes in words (the track page's "notes as a table").

Pitch names come from pretty_midi (sharps, scientific octave: C4 is middle C). Positions are
the bar, from the piece's own meter map, and the beat within it counted in quarter notes from
1, as the piece stores time (in 6/8 the second dotted-quarter pulse is beat 2½).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pretty_midi

from generation.music.notes import Piece

MAX_ROWS = 2000  # beyond this, the table says how many were left out


@dataclass(frozen=True)
class RollRow:
    part: str
    bar: int
    beat: str  # "1", "2½", "3¾": quarter beats within the bar, from 1
    pitch: str  # "C4"
    length: str  # in quarter beats: "1", "½", "1½"
    onset: float  # for sorting and tests


def _amount(value: float) -> str:
    """A number of quarter beats as a musician writes it: 1½ rather than 1.5."""
    frac = Fraction(value).limit_denominator(12)
    whole, rest = divmod(frac, 1)
    glyphs = {Fraction(1, 2): "½", Fraction(1, 4): "¼", Fraction(3, 4): "¾",
              Fraction(1, 3): "⅓", Fraction(2, 3): "⅔", Fraction(1, 8): "⅛",
              Fraction(3, 8): "⅜", Fraction(5, 8): "⅝", Fraction(7, 8): "⅞"}
    if rest == 0:
        return str(int(whole))
    tail = glyphs.get(rest, f"{rest.numerator}/{rest.denominator}")
    return tail if whole == 0 else f"{int(whole)}{tail}"


def _bar_starts(piece: Piece) -> list[tuple[float, float]]:
    """(start beat, length in beats) of every bar up to the piece's end."""
    sigs = sorted(piece.time_signatures) or [(0.0, 4, 4)]
    end = max(piece.end_beat, 1e-9)
    bars: list[tuple[float, float]] = []
    for i, (beat, num, den) in enumerate(sigs):
        length = num * 4.0 / den
        stop = sigs[i + 1][0] if i + 1 < len(sigs) else end
        position = beat
        while position < stop - 1e-9 or (not bars and position <= stop):
            bars.append((position, length))
            position += length
    return bars


def pianoroll_rows(piece: Piece, limit: int = MAX_ROWS) -> tuple[list[RollRow], int]:
    """Every pitched note of ``piece`` in time order (highest first within a chord), at most
    ``limit``; returns the rows and how many notes were left out."""
    bars = _bar_starts(piece)
    named = [p for p in piece.parts if not p.is_drum]
    notes = []
    for index, part in enumerate(named):
        label = part.name or (f"Part {index + 1}" if len(named) > 1 else "")
        notes.extend((n.onset, -n.pitch, label, n) for n in part.notes)
    notes.sort(key=lambda item: (item[0], item[1]))
    rows: list[RollRow] = []
    b = 0
    for onset, _, label, note in notes[:limit]:
        while b + 1 < len(bars) and bars[b + 1][0] <= onset + 1e-9:
            b += 1
        start = bars[b][0] if bars else 0.0
        rows.append(RollRow(
            part=label, bar=b + 1, beat=_amount(1 + onset - start),
            pitch=pretty_midi.note_number_to_name(note.pitch),
            length=_amount(note.duration), onset=onset,
        ))
    return rows, max(0, len(notes) - limit)
