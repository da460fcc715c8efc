"""Attributes and MusPy-style metrics on hand-made pieces whose answers are known."""

from __future__ import annotations

import math
import shutil

import pytest

from generation.music import attributes as A
from generation.music import schema
from generation.music.notes import Note, Part, Piece

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]
A_MINOR_HARMONIC = [57, 59, 60, 62, 64, 65, 68, 69, 68, 64, 57]


def melody(pitches, dur=1.0, start=0.0, meter=(4, 4)) -> Piece:
    notes = [Note(start + i * dur, p, dur) for i, p in enumerate(pitches)]
    return Piece(parts=[Part(notes=notes)], time_signatures=[(0.0, *meter)])


def test_c_major_scale_is_major_and_a_minor_line_is_minor():
    assert A.measure_attributes(melody(C_MAJOR))["mode"] == "major"
    assert A.measure_attributes(melody(A_MINOR_HARMONIC))["mode"] == "minor"


def test_density_counts_onsets_per_beat_and_dense_beats_sparse():
    dense = melody(C_MAJOR * 4, dur=0.25)  # sixteenths: 4 onsets a beat
    sparse = melody(C_MAJOR, dur=4.0)  # whole notes: 1/4 onset a beat
    assert A.density(dense) == pytest.approx(4.0)
    assert A.density(sparse) == pytest.approx(0.25)
    chord = Piece(parts=[Part(notes=[Note(0, 60, 2), Note(0, 64, 2), Note(0, 67, 2)])])
    assert A.density(chord) == pytest.approx(1.5)  # three onsets over two beats


def test_bands_follow_frozen_schema_edges():
    d_edges = schema.band_edges("density_band")
    r_edges = schema.band_edges("register_band")
    # the edges are committed in the schema: missing ones are a regression, not a skip
    assert d_edges is not None and r_edges is not None, "band edges missing from the schema"
    lo, hi = d_edges
    assert schema.density_band(lo - 1e-3) == "sparse"
    assert schema.density_band(lo) == "moderate"  # an edge belongs to the band above
    assert schema.density_band(hi + 1e-3) == "dense"
    assert schema.register_band(r_edges[0] - 0.5) == "low"
    assert schema.register_band(r_edges[1] + 0.5) == "high"
    attrs = A.measure_attributes(melody(C_MAJOR * 8, dur=0.125))
    assert attrs["density_band"] == "dense"
    low = A.measure_attributes(melody([p - 36 for p in C_MAJOR], dur=4.0))
    assert low["density_band"] == "sparse" and low["register_band"] == "low"


def test_write_band_edges_changes_only_the_edges(tmp_path, monkeypatch):
    copy = tmp_path / "attributes_schema.json"
    shutil.copy(schema.SCHEMA_PATH, copy)
    before = copy.read_text()
    schema.write_band_edges({"density_band": [1.25, 2.5]}, path=copy)
    after = copy.read_text()
    import json

    a, b = json.loads(before), json.loads(after)
    assert b["attributes"]["density_band"]["edges"] == [1.25, 2.5]
    b["attributes"]["density_band"]["edges"] = a["attributes"]["density_band"]["edges"]
    assert a == b
    assert len(before.splitlines()) == len(after.splitlines())  # layout kept


def test_bands_within_a_style_have_edges_of_their_own():
    # every style has its own committed edges, and they differ from the corpus-wide ones
    for style in schema.STYLES:
        for attr in ("density_band", "register_band"):
            own = schema.band_edges(attr, style)
            assert own is not None and own[0] < own[1], (attr, style)
    assert schema.band_edges("density_band", "chorale") != schema.band_edges("density_band")
    # a chorale in steady quarter notes (4 onsets a beat) is dense by the corpus-wide edges,
    # like every chorale, but within chorales it is a calm one
    quarters = Piece(parts=[Part(notes=[Note(b, p, 1.0) for b in range(16)])
                            for p in (72, 67, 64, 48)])
    assert A.density(quarters) == pytest.approx(4.0)
    wide, own = A.measure_attributes(quarters), A.measure_attributes(quarters, "chorale")
    assert wide["density_band"] == "dense" and own["density_band"] == "sparse"
    lo, hi = schema.band_edges("register_band", "chorale")
    assert schema.register_band(hi + 0.1, "chorale") == "high"
    assert schema.register_band(hi + 0.1) == "low"  # a high chorale, low among all tunes
    assert schema.band_interval("register_band", "middle", "chorale") == (lo, hi)
    # a style the schema does not know falls back to the corpus-wide edges
    assert schema.band_edges("density_band", "gamelan") == schema.band_edges("density_band")


def test_write_style_edges_adds_then_replaces_by_style_only(tmp_path):
    import json

    copy = tmp_path / "attributes_schema.json"
    shutil.copy(schema.SCHEMA_PATH, copy)
    before = json.loads(copy.read_text())
    new = {"density_band": {"chorale": [3.0, 3.5]}, "register_band": {"celtic": [70.0, 72.0]}}
    for _ in range(2):  # a second write replaces the first rather than adding a second key
        schema.write_style_edges(new, path=copy)
    after = json.loads(copy.read_text())
    assert after["attributes"]["density_band"]["by_style"] == {"chorale": [3.0, 3.5]}
    assert after["attributes"]["register_band"]["by_style"] == {"celtic": [70.0, 72.0]}
    for attr in ("density_band", "register_band"):
        after["attributes"][attr]["by_style"] = before["attributes"][attr]["by_style"]
    assert after == before
    with pytest.raises(KeyError, match="unknown styles"):
        schema.write_style_edges({"density_band": {"gamelan": [1, 2]}}, path=copy)
    schema.load_schema.cache_clear()


def test_register_and_polyphony():
    chord = Piece(parts=[Part(notes=[Note(0, 60, 2), Note(0, 64, 2), Note(0, 67, 2),
                                     Note(4, 72, 2)])])
    assert A.register(chord) == pytest.approx((60 + 64 + 67 + 72) / 4)
    # 3 voices for 2 beats, 1 voice for 2 beats, silence not counted: (6 + 2) / 4
    assert A.polyphony(chord) == pytest.approx(2.0)
    assert A.polyphony(melody(C_MAJOR)) == pytest.approx(1.0)


def test_pitch_class_entropy_and_scale_consistency():
    scale = melody(C_MAJOR[:7])
    assert A.pitch_class_entropy(scale) == pytest.approx(math.log2(7))
    assert A.pitch_class_entropy(melody([60] * 5)) == pytest.approx(0.0)
    assert A.scale_consistency(scale) == pytest.approx(1.0)
    chromatic = melody(list(range(60, 72)))
    assert A.scale_consistency(chromatic) == pytest.approx(7 / 12)
    assert A.pitch_class_entropy(chromatic) == pytest.approx(math.log2(12))


def test_groove_consistency_empty_beats_and_range():
    same_bars = melody([60, 62] * 8, dur=2.0)  # every 4/4 bar: onsets on beats 1 and 3
    assert A.groove_consistency(same_bars) == pytest.approx(1.0)
    varied = Piece(parts=[Part(notes=[Note(0, 60, 1), Note(4, 60, 0.25), Note(4.25, 60, 0.25),
                                      Note(8, 60, 1)])])
    assert A.groove_consistency(varied) < 1.0
    gap = Piece(parts=[Part(notes=[Note(0, 60, 1), Note(3, 62, 1)])])  # beats 1, 2 silent
    assert A.empty_beat_rate(gap) == pytest.approx(0.5)
    held = Piece(parts=[Part(notes=[Note(0, 60, 3), Note(3, 62, 1)])])
    assert A.empty_beat_rate(held) == pytest.approx(0.0)
    assert A.pitch_range(melody(C_MAJOR)) == 12
    m = A.muspy_metrics(melody(C_MAJOR))
    assert set(m) == {"pitch_class_entropy", "scale_consistency", "groove_consistency",
                      "empty_beat_rate", "pitch_range", "polyphony"}


def test_empty_piece_gives_zeros_not_errors():
    empty = Piece(parts=[Part()])
    attrs = A.measure_attributes(empty)
    assert attrs["density"] == 0 and attrs["register"] == 0 and attrs["polyphony"] == 0
