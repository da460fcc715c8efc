"""Attribute guidance: the feedback bias that keeps a row's density and register in band."""

from __future__ import annotations

import numpy as np
import pytest

from generation.ml.guidance import GuideTarget, RowGuide
from generation.ml.sampling import SampleSettings, sample
from generation.music import schema
from generation.music.tokenizer import Grammar, Tokenizer

TOK = Tokenizer()


def _feed(guide: RowGuide, tokens: list[int]) -> Grammar:
    grammar = Grammar(TOK).feed_all(TOK.prefix("chorale", "major", "sparse", "low", (4, 4)))
    for t in tokens:
        grammar.feed(t)
        guide.feed(t, grammar)
    return grammar


def _pos(p: int) -> int:
    return TOK.ranges["Pos"][0] + p


def _pitch(midi: int) -> int:
    return TOK.ranges["Pitch"][0] + midi - TOK.config.pitch_low


def _dur(steps: int) -> int:
    return TOK.ranges["Dur"][0] + TOK.config.duration_steps.index(steps)


def _chords(pitches: list[int], every: int, bars: int = 1) -> list[int]:
    """Bars of the same chord every ``every`` steps, each note ``every`` steps long."""
    out = []
    for _ in range(bars):
        out.append(TOK.bar)
        for p in range(0, 4 * TOK.q, every):
            out.append(_pos(p))
            for m in pitches:
                out += [_pitch(m), _dur(every)]
    return out


def test_the_target_uses_the_frozen_band_edges():
    d_lo, d_hi = schema.band_edges("density_band")
    t = GuideTarget.for_bands("moderate", "high")
    assert t.density == (d_lo, d_hi)
    assert t.register[0] == schema.band_edges("register_band")[1]
    assert t.register[1] == float("inf")
    assert GuideTarget.for_bands("sparse", None).density == (0.0, d_lo)


def test_no_bias_before_any_note_and_inside_the_band():
    guide = RowGuide(TOK, GuideTarget.for_bands("moderate", "middle"))
    grammar = _feed(guide, [TOK.bar])
    assert guide.bias(grammar) is None  # only the prior so far: at the band's centre
    # one note a beat at ~70 (moderate register, density 1/beat is sparse: not inside)
    guide = RowGuide(TOK, GuideTarget.for_bands("sparse", "middle"))
    grammar = _feed(guide, _chords([70], TOK.q, bars=2))
    assert guide.bias(grammar) is None


def test_too_dense_pushes_toward_fewer_notes_and_later_positions():
    guide = RowGuide(TOK, GuideTarget.for_bands("sparse", None))
    grammar = _feed(guide, _chords([60, 64, 67, 72], 6, bars=2))  # 4-note chords on 8ths
    bias = guide.bias(grammar)
    assert bias is not None
    pos_near, pos_far = _pos(grammar.pos + 1), _pos(grammar.pos + 2 * TOK.q)
    assert bias[_pitch(76)] < 0  # another note at this position: discouraged
    assert bias[pos_far] > bias[pos_near]  # a longer gap: encouraged
    assert bias[TOK.bar] > 0


def test_too_sparse_pushes_toward_more_notes_and_nearer_positions():
    guide = RowGuide(TOK, GuideTarget.for_bands("dense", None))
    grammar = _feed(guide, _chords([67], 4 * TOK.q, bars=3))  # one whole note a bar
    bias = guide.bias(grammar)
    assert bias is not None
    assert bias[_pitch(72)] > 0
    assert bias[_pos(grammar.pos + 1)] > bias[_pos(grammar.pos + 2 * TOK.q)]
    assert bias[TOK.bar] < 0


def test_register_bias_points_toward_the_band():
    guide = RowGuide(TOK, GuideTarget.for_bands(None, "high"))
    grammar = _feed(guide, _chords([48, 52], TOK.q, bars=2))  # far below "high"
    grammar.feed(_pos(grammar.pos + 1) if grammar.pos + 1 < grammar.bar_steps else TOK.bar)
    bias = guide.bias(grammar)
    assert bias is not None
    assert bias[_pitch(84)] > bias[_pitch(72)] > bias[_pitch(50)]
    assert bias[TOK.bar] == 0  # only pitches move the register


def test_guided_rows_are_the_same_alone_and_batched(tiny_model):
    model = tiny_model()
    guide = GuideTarget.for_bands("sparse", "high")
    cfg = SampleSettings(bars=2, guide=guide)
    p = TOK.prefix("celtic", "major", "sparse", "high", (4, 4))
    q = TOK.prefix("chorale", "minor", "sparse", "high", (3, 4))
    alone = sample(model, TOK, [p], [9], cfg)[0]
    batched = sample(model, TOK, [q, p, q], [1, 9, 2], cfg)
    assert batched[1] == alone
    unguided = sample(model, TOK, [p], [9], SampleSettings(bars=2))[0]
    assert unguided != alone  # the guide does change what is sampled


@pytest.mark.parametrize("band", ["sparse", "moderate"])
def test_the_trained_model_follows_a_band_its_style_never_has(band):
    """No chorale in the corpus is sparse and one is moderate (four voices give > 2 onsets a
    beat): the prefix alone does not get there; guidance brings the density into the band."""
    style = "chorale"
    from generation.ml.compose import compose, load_default_model
    from generation.music.attributes import measure_attributes

    engine = load_default_model("cpu")
    attrs = {"mode": "major", "density_band": band, "register_band": "middle"}
    runs = {}
    for g in (0.0, 3.0):
        out = compose(attrs, style, bars=8, seed=40, variants=6, model=engine, candidates=1,
                      guidance=g)
        runs[g] = [measure_attributes(o.piece) for o in out]
    d0 = np.mean([m["density"] for m in runs[0.0]])
    d1 = np.mean([m["density"] for m in runs[3.0]])
    hits0 = sum(m["density_band"] == band for m in runs[0.0])
    hits1 = sum(m["density_band"] == band for m in runs[3.0])
    assert d1 < d0
    assert hits1 > hits0
    assert hits1 >= 4  # of 6


def test_mode_bias_leans_to_the_requested_mode_only_while_it_does_not_lead():
    from generation.ml.guidance import _KEY_PROFILES_Z

    c_major = [60, 64, 67, 72]  # C E G C: C major leads any minor key
    guide = RowGuide(TOK, GuideTarget.for_bands(None, None, mode="major"))
    grammar = _feed(guide, _chords(c_major, TOK.q, bars=1))
    assert guide.bias(grammar) is None  # already major: nothing to add
    guide = RowGuide(TOK, GuideTarget.for_bands(None, None, mode="minor"))
    grammar = _feed(guide, _chords(c_major, TOK.q, bars=1))
    bias = guide.bias(grammar)
    assert bias is not None
    # the minor key that fits C-E-G best (E minor or A minor or C minor) gets its profile
    tonic = int(np.argmax(_KEY_PROFILES_Z[1] @ (guide.pc_time - guide.pc_time.mean())))
    third = (tonic + 3) % 12
    assert bias[_pitch(60 + tonic)] > 0 and bias[_pitch(60 + third)] > 0
    assert bias[_pitch(61 + tonic)] < 0  # a semitone above the tonic: out of the key
    assert bias[TOK.bar] == 0  # only pitches move the mode
    with pytest.raises(ValueError):
        GuideTarget.for_bands(None, None, mode="dorian")


def test_guidance_brings_the_trained_model_to_a_mode_it_ignores():
    """The model hardly reads the mode token (about half its pieces measure in the asked
    mode); with guidance clearly more do. Judged on 160 pieces per setting, not 10: at 10, the
    old threshold held at seed 70 and failed at 2 of seeds 1-5. Measured at four seed bases
    (70, 10000, 20000, 30000): unguided 83-87, guided 103-112 of 160, a gain of 19-27; the
    floors below (91 and 10) sit two or more standard deviations under those."""
    from generation.ml.compose import compose, load_default_model
    from generation.music.attributes import measure_attributes

    engine = load_default_model("cpu")
    per_mode = 80
    got: dict[float, list[bool]] = {}
    for g in (0.0, 3.0):
        got[g] = []
        for mode in ("major", "minor"):
            attrs = {"mode": mode, "density_band": "moderate", "register_band": "middle"}
            out = compose(attrs, "german_folk", bars=4, seed=70, variants=per_mode,
                          model=engine, candidates=1, guidance=g)
            got[g] += [measure_attributes(o.piece)["mode"] == mode for o in out]
    n = 2 * per_mode
    hits = {g: sum(v) for g, v in got.items()}
    assert hits[3.0] >= 0.57 * n, hits
    assert hits[3.0] - hits[0.0] >= 10, hits
