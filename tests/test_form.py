"""Form for the one-line styles (generation.ml.form) and the sampler's copied bars."""


import numpy as np
import pytest

from generation.ml import form
from generation.music.grid import STYLE_VOICES, GridCodec, bar_frames


@pytest.fixture
def random_engine(random_grid_engine):
    return random_grid_engine


def test_the_committed_table_has_every_one_line_style_and_draws_earlier_bars():
    for style, voices in STYLE_VOICES.items():
        plans = [form.draw(style, 8, seed) for seed in range(200)]
        if voices > 1:
            assert all(p == {} for p in plans)
            continue
        assert all(0 <= a < b < 8 for p in plans for b, a in p.items())
        share = np.mean([bool(p) for p in plans])
        assert 0.2 < share < 0.9  # some repeat, some do not, as in the corpus
    assert form.draw("celtic", 3, 1) == {}  # too short for a form
    assert form.draw("celtic", 8, 5) == form.draw("celtic", 8, 5)


def test_repeat_pattern_pairs_each_bar_with_its_first_twin():
    codec = GridCodec()
    F = 2
    a, b = codec.pitch_id(60), codec.pitch_id(62)
    bars = [[a, codec.hold], [b, b], [a, codec.hold], [codec.rest, codec.rest],
            [codec.rest, codec.rest], [b, b]]
    frames = np.array([t for bar in bars for t in bar])[:, None]
    assert form.repeat_pattern(frames, F, 6, codec) == ((2, 0), (5, 1))


def test_the_sampler_copies_the_planned_bars_and_writes_the_rest(random_engine):
    from generation.ml.compose_v2 import sample_bars

    codec = random_engine.codec
    meter = (4, 4)
    F = bar_frames("celtic", meter)
    prefix = codec.prefix("celtic", meter, "major", "moderate")
    empty = np.zeros((0, 1), np.int64)
    plan = {4: 0, 5: 1}
    rows = sample_bars(random_engine, prefix, empty, "celtic", meter, 8, 8, [11, 12],
                       repeats=plan)
    for smp in rows:
        f = smp.frames[:, 0]
        for b, src in plan.items():
            got, want = f[b * F:(b + 1) * F], f[src * F:(src + 1) * F].copy()
            if want[0] == codec.hold:  # a tie into the bar may be struck again instead
                assert got[0] == codec.hold or codec.is_pitch(int(got[0]))
                got, want = got[1:], want[1:]
            assert got.tolist() == want.tolist()
        assert f[2 * F:4 * F].tolist() != f[6 * F:8 * F].tolist()  # the rest is free
    again = sample_bars(random_engine, prefix, empty, "celtic", meter, 8, 8, [11, 12],
                        repeats=plan)
    assert [r.frames.tolist() for r in again] == [r.frames.tolist() for r in rows]


def test_a_continuation_can_bring_back_a_bar_of_the_seed(random_engine, monkeypatch):
    from generation.ml.compose_v2 import continue_piece
    from generation.music.notes import Note, Part, Piece

    # a 4-bar seed; the drawn form says bar 5 (0-based 4) repeats bar 1 (0-based 0)
    monkeypatch.setattr(form, "draw", lambda style, bars, seed: {4: 0, 1: 0})
    pitches = [67, 69, 71, 72, 74, 72, 71, 69, 67, 66, 64, 62, 64, 66, 67, 67]
    seed = Piece(parts=[Part([Note(float(i), p, 1.0) for i, p in enumerate(pitches)],
                             program=0)], time_signatures=[(0.0, 4, 4)], key="G major")
    out = continue_piece(seed, bars=2, style="german_folk", seed=3, model=random_engine,
                         candidates=2)[0].piece
    notes = out.parts[0].notes
    assert [(n.onset, n.pitch) for n in notes if n.onset < 16] == [
        (n.onset, n.pitch) for n in seed.parts[0].notes]  # the seed kept ({1: 0} ignored)
    fifth = [(n.onset - 16, n.pitch) for n in notes if 16 <= n.onset < 20]
    assert fifth == [(float(i), p) for i, p in enumerate(pitches[:4])]
    assert out.bars == 6


def test_pickups_are_drawn_as_often_as_the_corpus_starts_there(tmp_path):
    table = tmp_path / "form.json"
    table.write_text('{"styles": {}, "pickups": {"chorale": {"4/4": [[0, 1], [12, 3]]}}}')
    draws = [form.draw_lead_in("chorale", (4, 4), s, path=table) for s in range(400)]
    assert set(draws) == {0, 12}
    assert 0.65 < np.mean(np.array(draws) == 12) < 0.85  # 3 of 4
    assert form.draw_lead_in("chorale", (3, 4), 1, path=table) == 0  # no row: the downbeat
    assert form.draw_lead_in("celtic", (6, 8), 1, path=tmp_path / "none.json") == 0
    # the committed table: most chorales in 4/4 begin with an upbeat, under a bar
    committed = [form.draw_lead_in("chorale", (4, 4), s) for s in range(200)]
    assert 0.6 < np.mean(np.array(committed) > 0) < 0.98
    assert max(committed) < bar_frames("chorale", (4, 4))
    assert all(form.draw_lead_in("renaissance", (4, 2), s) == 0 for s in range(20))


def test_a_pickup_is_silence_then_the_top_voice_and_no_repeat_copies_it(random_engine):
    from generation.ml.compose_v2 import _opening, sample_bars

    codec = random_engine.codec
    meter = (4, 4)
    prefix = codec.prefix("chorale", meter, "major", "moderate")
    rows = sample_bars(random_engine, prefix, np.zeros((0, 4), np.int64), "chorale", meter,
                       4, 4, [3, 4, 5], lead_in=12)
    for smp in rows:
        assert (smp.frames[:12] == codec.rest).all()  # every voice waits
        assert codec.is_pitch(int(smp.frames[12, 0]))  # the top voice's pickup note
    assert _opening({4: 0, 5: 1, 9: 2}, 8, lead_in=12) == {5: 1}
    assert _opening({4: 0, 5: 1}, 8) == {4: 0, 5: 1}


def test_a_candidate_with_a_silent_bar_is_never_chosen(random_engine, monkeypatch):
    from generation.ml import compose_v2

    real = compose_v2.sample_bars

    def one_silent(*args, **kwargs):  # the first candidate falls silent in bar 3
        rows = real(*args, **kwargs)
        F = bar_frames("celtic", (6, 8))
        rows[0].frames[2 * F:3 * F] = random_engine.codec.rest
        rows[0].logp = 0.0  # and is the likeliest by far
        return rows

    monkeypatch.setattr(compose_v2, "sample_bars", one_silent)
    p = compose_v2.compose({}, "celtic", bars=4, seed=1, model=random_engine, candidates=3,
                           groups=0, meter=(6, 8))[0].piece
    bar = p.bar_beats
    assert any(2 * bar - 1e-9 <= n.onset < 3 * bar or
               (n.onset < 2 * bar < n.onset + n.duration) for n in p.all_notes())
