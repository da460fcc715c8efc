"""Augmentation: transposition stays in range, tempo scaling touches only the tempo map."""

from __future__ import annotations

import numpy as np
import pytest

from generation.music import augment
from generation.music.notes import Note, Part, Piece


def piece(pitches, key="C major") -> Piece:
    notes = [Note(float(i), p, 1.0) for i, p in enumerate(pitches)]
    drums = Part(notes=[Note(0.0, 36, 0.5), Note(1.0, 38, 0.5)], is_drum=True)
    return Piece(parts=[Part(notes=notes), drums], tempos=[(0.0, 100.0), (4.0, 80.0)],
                 key=key)


def test_transpose_moves_pitches_and_key_but_not_drums():
    p = piece([60, 64, 67])
    up = augment.transpose(p, 3)
    assert [n.pitch for n in up.parts[0].notes] == [63, 67, 70]
    assert [n.pitch for n in up.parts[1].notes] == [36, 38]
    assert up.key == "E- major"
    assert [n.pitch for n in p.parts[0].notes] == [60, 64, 67]  # original untouched
    assert augment.transpose(piece([57], key="a minor"), -2).key == "G minor"


def test_allowed_shifts_respect_range_and_transpose_refuses_to_leave_it():
    high = piece([100, 105])
    shifts = augment.allowed_shifts(high)
    assert max(shifts) == 108 - 105 and min(shifts) == 21 - 100
    with pytest.raises(ValueError):
        augment.transpose(high, 4)
    roll = augment.allowed_shifts(high, augment.ROLL_RANGE)
    assert max(roll) == 107 - 105


@pytest.mark.parametrize("pitches", [[21, 30], [100, 108], [24, 107], [60, 72]])
def test_random_transpose_always_keeps_pitches_in_range(pitches):
    rng = np.random.default_rng(0)
    p = piece(pitches)
    seen = set()
    for _ in range(200):
        out, shift = augment.random_transpose(p, rng, max_shift=6)
        ps = [n.pitch for n in out.parts[0].notes]
        assert 21 <= min(ps) and max(ps) <= 108
        assert ps == [x + shift for x in pitches]
        seen.add(shift)
        out, _ = augment.random_transpose(p, rng, max_shift=6, pitch_range=augment.ROLL_RANGE)
        ps = [n.pitch for n in out.parts[0].notes]
        assert 24 <= min(ps) and max(ps) <= 107
    if pitches == [60, 72]:
        assert seen == set(range(-6, 7))  # every shift within +-6 is reachable


def test_tempo_scaling_changes_only_the_tempo_map():
    p = piece([60, 62])
    fast = augment.scale_tempo(p, 1.5)
    assert fast.tempos == [(0.0, 150.0), (4.0, 120.0)]
    assert fast.parts[0].notes == p.parts[0].notes
    assert fast.duration_seconds == pytest.approx(p.duration_seconds / 1.5)
    assert augment.scale_tempo(p, 10).tempos[0][1] == 240.0  # clipped to the schema range
    rng = np.random.default_rng(1)
    for _ in range(50):
        out, f = augment.random_tempo(p, rng)
        assert 0.8 <= f <= 1.25
        assert out.tempos[0][1] == pytest.approx(100.0 * f)
    with pytest.raises(ValueError):
        augment.scale_tempo(p, 0)
