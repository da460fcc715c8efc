"""Piano-roll phrases: shapes, meters, repeated notes, and exact round trips on real pieces."""

from __future__ import annotations

import numpy as np
import pytest

from generation.music import pianoroll as R
from generation.music.notes import Note, Part, Piece


def key_of(notes):
    return sorted((n.onset, n.pitch, n.duration) for n in notes)


def test_constants_match_the_contract():
    assert (R.STEPS_PER_QUARTER, R.PITCH_LOW, R.N_PITCHES, R.PHRASE_STEPS) == (4, 24, 84, 64)


def test_repeated_notes_survive_thanks_to_the_onset_channel():
    repeated = [Note(0.0, 60, 1.0), Note(1.0, 60, 1.0)]
    held = [Note(0.0, 60, 2.0)]
    r1, r2 = R.notes_to_roll(repeated, 16), R.notes_to_roll(held, 16)
    assert np.array_equal(r1[R.SOUNDING], r2[R.SOUNDING])
    assert not np.array_equal(r1[R.ONSET], r2[R.ONSET])
    assert key_of(R.roll_to_notes(r1)) == key_of(repeated)
    assert key_of(R.roll_to_notes(r2)) == key_of(held)


def test_notes_to_roll_and_back_is_exact_on_the_grid():
    rng = np.random.default_rng(3)
    notes, busy = [], {}
    for _ in range(300):
        pitch = int(rng.integers(24, 108))
        onset = int(rng.integers(0, 200)) / 4
        dur = int(rng.integers(1, 12)) / 4
        if any(o < onset + dur and onset < e for o, e in busy.get(pitch, [])):
            continue  # one pitch cannot hold two overlapping notes in a roll
        busy.setdefault(pitch, []).append((onset, onset + dur))
        notes.append(Note(onset, pitch, dur))
    roll = R.notes_to_roll(notes, 260)
    assert roll.shape == (2, 84, 260) and roll.dtype == np.float32
    assert key_of(R.roll_to_notes(roll)) == key_of(notes)


def test_out_of_range_pitches_are_left_out_and_counted():
    piece = Piece(parts=[Part(notes=[Note(0, 20, 1), Note(0, 60, 1), Note(1, 110, 1)])])
    ps = R.piece_to_phrases(piece)
    assert ps.dropped_notes == 2
    assert key_of(R.phrases_to_piece(ps).parts[0].notes) == [(0.0, 60, 1.0)]


@pytest.mark.parametrize("meter, bars, valid", [
    ((4, 4), 4, 64), ((2, 2), 4, 64), ((3, 4), 4, 48), ((6, 8), 4, 48), ((2, 4), 4, 32),
    ((4, 2), 2, 64), ((3, 2), 2, 48), ((9, 8), 3, 54)])
def test_phrase_geometry(meter, bars, valid):
    assert R.phrase_geometry(meter) == (bars, valid)


def test_three_four_phrases_are_padded_and_masked():
    notes = [Note(i * 1.0, 60 + i % 12, 1.0) for i in range(30)]  # 30 beats = 10 bars of 3/4
    piece = Piece(parts=[Part(notes=notes)], time_signatures=[(0.0, 3, 4)])
    ps = R.piece_to_phrases(piece)
    assert ps.rolls.shape == (3, 2, 84, 64)
    assert ps.mask[:, :48].all() and not ps.mask[:, 48:].any()
    assert not ps.rolls[:, :, :, 48:].any()
    assert list(ps.starts) == [0.0, 12.0, 24.0]
    assert key_of(R.phrases_to_piece(ps).parts[0].notes) == key_of(notes)


def test_notes_held_across_a_phrase_boundary_are_rejoined():
    notes = [Note(14.0, 67, 4.0), Note(15.0, 60, 1.0), Note(16.0, 60, 2.0)]
    piece = Piece(parts=[Part(notes=notes)])
    ps = R.piece_to_phrases(piece)
    assert len(ps) == 2
    assert ps.rolls[1, R.SOUNDING, 67 - 24, 0] == 1 and ps.rolls[1, R.ONSET, 67 - 24, 0] == 0
    assert key_of(R.phrases_to_piece(ps).parts[0].notes) == key_of(notes)


def test_bare_model_output_becomes_a_piece():
    rolls = np.zeros((2, 2, 84, 64), dtype=np.float32)
    rolls[0, :, 60 - 24, 0] = 0.9  # one-step note, noisy probabilities above threshold
    rolls[1, R.SOUNDING, 62 - 24, 0:8] = 0.8
    rolls[1, R.ONSET, 62 - 24, 0] = 0.7
    rolls[1, R.ONSET, 64 - 24, 4] = 0.6  # onset drawn without sounding: one step
    piece = R.phrases_to_piece(rolls, meter=(4, 4), tempo_bpm=90)
    assert key_of(piece.parts[0].notes) == [(0.0, 60, 0.25), (16.0, 62, 2.0), (17.0, 64, 0.25)]
    assert piece.tempo_bpm == 90
    three = R.phrases_to_piece(rolls, meter=(3, 4))
    assert key_of(three.parts[0].notes)[1][0] == 12.0  # 3/4 phrases are 12 beats apart


def test_drop_empty_keeps_positions():
    notes = [Note(0.0, 60, 1.0), Note(40.0, 62, 1.0)]
    ps = R.piece_to_phrases(Piece(parts=[Part(notes=notes)]), drop_empty=True)
    assert list(ps.starts) == [0.0, 32.0]
    assert key_of(R.phrases_to_piece(ps).parts[0].notes) == key_of(notes)


# --- real corpus pieces ---------------------------------------------------------------------
CASES = [("chorale", (4, 4)), ("chorale", (3, 4)), ("renaissance", None),
         ("german_folk", (3, 4)), ("german_folk", (4, 4)), ("chinese_folk", (2, 4)),
         ("celtic", (6, 8)), ("celtic", (4, 4))]


@pytest.fixture(scope="module")
def corpus_data():
    from generation.music.corpus import load_corpus

    return load_corpus()


@pytest.mark.parametrize("style, meter", CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_round_trip_on_real_pieces(corpus_data, style, meter):
    infos = [p for p in corpus_data.pieces if p.style == style
             and (meter is None or p.meter == meter) and len(p.time_signatures) == 1]
    assert infos, f"no {style} piece in {meter}"
    for info in infos[:3]:
        piece = corpus_data.piece(info.id)
        expected = R.grid_notes(piece)
        ps = R.piece_to_phrases(piece)
        assert ps.rolls.shape[1:] == (2, 84, 64)
        _, valid = R.phrase_geometry(info.meter)
        assert ps.mask.sum(axis=1).tolist() == [valid] * len(ps)
        back = R.phrases_to_piece(ps)
        assert key_of(back.parts[0].notes) == key_of(expected)
        assert back.time_signature == piece.time_signature
        # On-grid notes come back unchanged, one by one.
        on_grid = {(n.onset, n.pitch, n.duration) for n in piece.all_notes()
                   if (n.onset * 4).is_integer() and (n.duration * 4).is_integer()}
        got = set(key_of(back.parts[0].notes))
        lost = [k for k in on_grid if k not in got]
        # only unisons / same-pitch overlaps between voices may merge
        assert len(lost) <= 0.1 * len(on_grid), lost[:5]


def test_main_meter_ignores_a_one_beat_pickup_meter():
    notes = [Note(i * 0.5, 60, 0.5) for i in range(40)]
    piece = Piece(parts=[Part(notes=notes)], time_signatures=[(0.0, 1, 4), (1.0, 2, 4)])
    assert R.main_meter(piece) == (2, 4)
    ps = R.piece_to_phrases(piece)
    assert ps.meter == (2, 4) and ps.phrase_steps == 32
    assert R.main_meter(Piece(parts=[Part(notes=notes)])) == (4, 4)
