"""Piano-roll phrases for the CycleGAN style transfer (after Brunner et al., 2018).

A roll is a float32 array (2, N_PITCHES, steps): channel 0 = the pitch sounds during the step,
channel 1 = a note starts on the step. The onset channel is what lets two repeated notes of the
same pitch survive (a held C and two struck Cs have the same sounding channel). Pitches are
MIDI ``PITCH_LOW`` .. ``PITCH_LOW + N_PITCHES - 1`` (24..107, C1..B7); the grid is
``STEPS_PER_QUARTER`` = 4 steps a quarter note (sixteenths). All parts of a piece are merged
into one roll (unisons between voices become one note); velocity is not kept.

Phrases: a piece is cut, from beat 0, into phrases of 4 bars of its own (first) meter. The
model's width is ``PHRASE_STEPS`` = 64 steps:

- 4/4 and 2/2: 4 bars = 16 quarters = 64 steps exactly.
- 3/4, 6/8 (4 bars = 12 quarters = 48 steps), 2/4 (32 steps), 3/8, 9/8, ...: the phrase's
  steps are placed at the start of the 64 and the rest is zero-padded; ``PhraseSet.mask``
  (N, 64) is True on the steps that belong to the phrase. We pad rather than resample because
  resampling 48 steps to 64 puts notes between grid steps and breaks the exact round trip
  (and changes the rhythm the model sees); a model that ignores the mask just sees silence.
- Meters whose 4 bars exceed 64 steps (4/2, 3/2, 5/4, ...) use as many whole bars as fit
  (4/2: 2 bars = 64 steps; 3/2: 2 bars = 48 steps); a bar longer than 64 steps is cut into
  64-step windows.

The meter used is the piece's main meter (``main_meter``: the one that covers most beats),
not the first one, because Essen songs often open with a one-beat "meter" for the pickup.
Other meters in the piece are ignored for cutting, and a pickup is not realigned: phrase
boundaries are multiples of the phrase length from beat 0.

Round trip: ``roll_to_notes(notes_to_roll(notes))`` gives back exactly the notes whose onset
and duration are multiples of a sixteenth, pitches in range, with no two notes of one pitch
overlapping; ``phrases_to_piece(piece_to_phrases(p))`` gives back p's notes in that form
(notes held across a phrase boundary are re-joined).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from generation.music.notes import DEFAULT_TEMPO_BPM, Note, Part, Piece

STEPS_PER_QUARTER = 4
PITCH_LOW = 24
N_PITCHES = 84
PITCH_HIGH = PITCH_LOW + N_PITCHES - 1  # 107, inclusive
PHRASE_STEPS = 64
PHRASE_BARS = 4
SOUNDING, ONSET = 0, 1


def main_meter(piece: Piece) -> tuple[int, int]:
    """The meter that covers the most beats of the piece (the first one on a tie)."""
    tss = piece.time_signatures or [(0.0, 4, 4)]
    end = max(piece.end_beat, tss[-1][0])
    covered: dict[tuple[int, int], float] = {}
    for i, (beat, num, den) in enumerate(tss):
        stop = tss[i + 1][0] if i + 1 < len(tss) else end
        covered[(num, den)] = covered.get((num, den), 0.0) + max(0.0, stop - beat)
    best = max(covered.values())
    return next((n, d) for _, n, d in tss if covered[(n, d)] == best)


def phrase_geometry(meter: tuple[int, int]) -> tuple[int, int]:
    """(bars per phrase, valid steps per phrase) for a meter; bars 0 = plain 64-step windows."""
    num, den = meter
    bar_steps = num * 4 * STEPS_PER_QUARTER / den
    if bar_steps <= 0 or abs(bar_steps - round(bar_steps)) > 1e-9:
        return 0, PHRASE_STEPS  # bar not on the grid (e.g. 7/32): plain windows
    bar_steps = int(round(bar_steps))
    bars = min(PHRASE_BARS, PHRASE_STEPS // bar_steps)
    if bars == 0:
        return 0, PHRASE_STEPS
    return bars, bars * bar_steps


def _step(beat: float) -> int:
    return int(round(beat * STEPS_PER_QUARTER))


def notes_to_roll(notes: Iterable[Note], n_steps: int, start_beat: float = 0.0) -> np.ndarray:
    """A (2, N_PITCHES, n_steps) float32 roll of the window [start_beat, start_beat + n_steps).

    Onsets and ends are rounded to the grid (a note lasts at least one step). A note that
    started before the window but still sounds in it sounds without an onset there, so
    concatenated windows re-join it. Pitches outside 24..107 are left out.
    """
    roll = np.zeros((2, N_PITCHES, n_steps), dtype=np.float32)
    origin = _step(start_beat)
    for n in notes:
        p = int(n.pitch) - PITCH_LOW
        if not 0 <= p < N_PITCHES:
            continue
        on = _step(n.onset) - origin
        off = max(_step(n.onset + n.duration), _step(n.onset) + 1) - origin
        if off <= 0 or on >= n_steps:
            continue
        roll[SOUNDING, p, max(on, 0):min(off, n_steps)] = 1.0
        if on >= 0:
            roll[ONSET, p, on] = 1.0
    return roll


def roll_to_notes(roll: np.ndarray, start_beat: float = 0.0, velocity: int = 80,
                  threshold: float = 0.5) -> list[Note]:
    """Notes of a (2, N_PITCHES, steps) roll (values above ``threshold`` count as on).

    A note starts on an onset step, or where the pitch starts sounding without one; it lasts
    while the pitch sounds and no new onset comes (at least one step, so an onset that a model
    drew without sounding still gives a one-step note). Exact inverse of ``notes_to_roll`` on
    the grid. Sorted like ``Note``.
    """
    roll = np.asarray(roll)
    if roll.ndim != 3 or roll.shape[:2] != (2, N_PITCHES):
        raise ValueError(f"expected a (2, {N_PITCHES}, steps) roll, got {roll.shape}")
    sound = roll[SOUNDING] > threshold
    onset = roll[ONSET] > threshold
    n_steps = sound.shape[1]
    out: list[Note] = []
    for p in np.flatnonzero(sound.any(axis=1) | onset.any(axis=1)):
        s, o = sound[p], onset[p]
        prev = np.concatenate([[False], s[:-1]])
        starts = np.flatnonzero(o | (s & ~prev))
        for i, t in enumerate(starts):
            limit = starts[i + 1] if i + 1 < len(starts) else n_steps
            end = t + 1
            while end < limit and s[end]:
                end += 1
            out.append(Note(start_beat + t / STEPS_PER_QUARTER, int(p) + PITCH_LOW,
                            (end - t) / STEPS_PER_QUARTER, int(velocity)))
    out.sort()
    return out


@dataclass
class PhraseSet:
    """Phrases of one piece plus what is needed to put them back together.

    ``rolls``: (N, 2, 84, 64) float32; ``mask``: (N, 64) bool, True on steps inside the
    phrase; ``starts``: start of each phrase in beats; ``phrase_steps``: valid steps per phrase;
    ``bars_per_phrase``: 0 when plain 64-step windows were used.
    """

    rolls: np.ndarray
    mask: np.ndarray
    starts: np.ndarray
    meter: tuple[int, int]
    bars_per_phrase: int
    phrase_steps: int
    tempos: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, DEFAULT_TEMPO_BPM)])
    time_signatures: list[tuple[float, int, int]] = field(
        default_factory=lambda: [(0.0, 4, 4)])
    key: str | None = None
    title: str = ""
    dropped_notes: int = 0  # notes outside 24..107, left out of every roll

    def __len__(self) -> int:
        return int(self.rolls.shape[0])


def piece_to_phrases(piece: Piece, drop_empty: bool = False) -> PhraseSet:
    """Cut a piece into 4-bar phrases (see the module docstring for 3/4, 6/8 and long bars).

    With ``drop_empty`` the silent phrases are left out (``starts`` still says where each kept
    one belongs). Drums are ignored.
    """
    meter = main_meter(piece)
    bars, valid = phrase_geometry(meter)
    notes = piece.all_notes(include_drums=False)
    dropped = sum(1 for n in notes if not PITCH_LOW <= n.pitch <= PITCH_HIGH)
    total_steps = max(_step(piece.end_beat), 1)
    n_phrases = -(-total_steps // valid)
    full = notes_to_roll(notes, n_phrases * valid)
    rolls = np.zeros((n_phrases, 2, N_PITCHES, PHRASE_STEPS), dtype=np.float32)
    for i in range(n_phrases):
        rolls[i, :, :, :valid] = full[:, :, i * valid:(i + 1) * valid]
    mask = np.zeros((n_phrases, PHRASE_STEPS), dtype=bool)
    mask[:, :valid] = True
    starts = np.arange(n_phrases, dtype=np.float64) * valid / STEPS_PER_QUARTER
    if drop_empty:
        keep = rolls[:, SOUNDING].reshape(n_phrases, -1).any(axis=1)
        rolls, mask, starts = rolls[keep], mask[keep], starts[keep]
    return PhraseSet(rolls=rolls, mask=mask, starts=starts, meter=meter, bars_per_phrase=bars,
                     phrase_steps=valid, tempos=list(piece.tempos),
                     time_signatures=list(piece.time_signatures), key=piece.key,
                     title=piece.title, dropped_notes=dropped)


def phrases_to_piece(rolls_or_phraseset: np.ndarray | PhraseSet,
                     meter: tuple[int, int] | None = None, tempo_bpm: float | None = None,
                     program: int = 0, velocity: int = 80, title: str | None = None,
                     threshold: float = 0.5) -> Piece:
    """Put phrases back into a one-part Piece.

    Given a PhraseSet, its meter, phrase starts, tempo map and meter map are used (arguments
    given here override meter/tempo/title). Given a bare (N, 2, 84, 64) array (a model's
    output), phrases follow each other from beat 0 with the geometry of ``meter`` (default
    4/4). Steps outside a phrase's mask are ignored. Notes held across a phrase boundary
    without a new onset are re-joined into one note.
    """
    if isinstance(rolls_or_phraseset, PhraseSet):
        ps = rolls_or_phraseset
        rolls = np.asarray(ps.rolls)
        meter = meter or ps.meter
        _, valid = phrase_geometry(meter)
        starts = np.asarray(ps.starts, dtype=np.float64)
        tempos = [(0.0, float(tempo_bpm))] if tempo_bpm else list(ps.tempos)
        tss = list(ps.time_signatures) if meter == ps.meter else [(0.0, *meter)]
        key, title = ps.key, ps.title if title is None else title
    else:
        rolls = np.asarray(rolls_or_phraseset)
        if rolls.ndim == 3:
            rolls = rolls[None]
        meter = meter or (4, 4)
        _, valid = phrase_geometry(meter)
        starts = np.arange(rolls.shape[0], dtype=np.float64) * valid / STEPS_PER_QUARTER
        tempos = [(0.0, float(tempo_bpm or DEFAULT_TEMPO_BPM))]
        tss = [(0.0, int(meter[0]), int(meter[1]))]
        key, title = None, title or ""
    if rolls.ndim != 4 or rolls.shape[1:3] != (2, N_PITCHES):
        raise ValueError(f"expected (N, 2, {N_PITCHES}, steps) rolls, got {rolls.shape}")
    if rolls.shape[0] == 0:
        return Piece(parts=[Part(program=program)], tempos=tempos, time_signatures=tss,
                     key=key, title=title)
    # Lay the phrases' valid steps on one timeline so held notes re-join across boundaries.
    start_steps = np.round(starts * STEPS_PER_QUARTER).astype(np.int64)
    total = int(start_steps.max()) + valid
    line = np.zeros((2, N_PITCHES, total), dtype=np.float32)
    for roll, s in zip(rolls, start_steps, strict=True):
        line[:, :, s:s + valid] = roll[:, :, :valid]
    notes = roll_to_notes(line, velocity=velocity, threshold=threshold)
    return Piece(parts=[Part(notes=notes, program=program)], tempos=tempos,
                 time_signatures=tss, key=key, title=title)


def grid_notes(piece: Piece) -> list[Note]:
    """What a piece looks like after a roll round trip: all parts merged, on the 16th grid,
    in range, unisons merged and a same-pitch overlap cut at the later onset. For tests and
    for measuring what the roll loses."""
    roll = notes_to_roll(piece.all_notes(include_drums=False),
                         max(_step(piece.end_beat), 1))
    return roll_to_notes(roll)
