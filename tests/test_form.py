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
