"""The data set: fingerprint de-duplication, stable splits, and the committed cache."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from generation.music import corpus as C
from generation.music.augment import transpose
from generation.music.notes import Note, Part, Piece

TUNE = [67, 69, 71, 72, 74, 72, 71, 69, 67, 66, 67, 62, 64, 66, 67, 69]
RHYTHM = [1.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 2.0, 0.5, 0.5, 1.0, 2.0]


def tune(pitches=TUNE, rhythm=RHYTHM, scale=1.0, accompany=False) -> Piece:
    t, notes = 0.0, []
    for p, d in zip(pitches, rhythm, strict=True):
        notes.append(Note(t * scale, p, d * scale))
        t += d
    parts = [Part(notes=notes)]
    if accompany:
        parts.append(Part(notes=[Note(0.0, 43, 4.0), Note(4.0, 50, 4.0)]))
    return Piece(parts=parts)


def record(style, source, piece):
    return {"style": style, "source": source, "fingerprint": C.melody_fingerprint(piece)}


def test_transposed_duplicate_is_detected():
    a = tune()
    b = transpose(a, 5)
    assert C.melody_fingerprint(a) == C.melody_fingerprint(b)
    # the same tune written in halved note values (L:1/16 against L:1/8) is the same tune
    assert C.melody_fingerprint(a) == C.melody_fingerprint(tune(scale=0.5))
    # an accompanying lower part does not hide the duplicate
    assert C.melody_fingerprint(a) == C.melody_fingerprint(tune(accompany=True))
    other = tune(pitches=TUNE[::-1])
    assert C.melody_fingerprint(a) != C.melody_fingerprint(other)
    other_rhythm = tune(rhythm=RHYTHM[::-1])
    assert C.melody_fingerprint(a) != C.melody_fingerprint(other_rhythm)

    recs = [record("celtic", "ryansMammoth/X.abc", b), record("celtic", "oneills1850/1.abc#3", a),
            record("celtic", "oneills1850/1.abc#4", other)]
    kept, dropped = C.dedupe(recs)
    assert dropped == 1 and len(kept) == 2
    # the first by source order is kept, whatever the input order
    assert {r["source"] for r in kept} == {"oneills1850/1.abc#3", "oneills1850/1.abc#4"}


def test_split_is_stable_when_pieces_are_added():
    fps = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(2000)]
    before = {fp: C.split_of(fp) for fp in fps}
    recs = [{"style": "celtic", "source": f"s{i}", "fingerprint": fp} for i, fp in enumerate(fps)]
    recs.append({"style": "chorale", "source": "new", "fingerprint": "f" * 40})
    kept, _ = C.dedupe(recs)
    after = {r["fingerprint"]: C.split_of(r["fingerprint"]) for r in kept}
    assert all(after[fp] == before[fp] for fp in fps)
    shares = {s: sum(v == s for v in before.values()) / len(fps) for s in C.SPLITS}
    assert 0.77 < shares["train"] < 0.83 and 0.08 < shares["valid"] < 0.12


@pytest.fixture(scope="module")
def data():
    return C.load_corpus()


def test_cache_loads_with_every_style_in_every_split(data):
    counts = data.counts()
    for style in C.STYLES:
        for split in C.SPLITS:
            assert counts[style][split] > 0, (style, split)
    assert data.manifest["counts"] == {s: counts[s] for s in data.manifest["counts"]}
    assert isinstance(data.notes, np.memmap)  # memory-mapped, not read into memory


def test_cache_files_match_the_manifest():
    manifest = json.loads((C.DATA_DIR / "MANIFEST.json").read_text())
    for name, meta in manifest["files"].items():
        assert C._sha256(C.DATA_DIR / name) == meta["sha256"], name
    assert manifest["music21_version"].startswith("10.")


def test_pieces_are_consistent(data):
    ids = [p.id for p in data.pieces]
    assert len(set(ids)) == len(ids)
    fps = [p.fingerprint for p in data.pieces]
    assert len(set(fps)) == len(fps)  # duplicates were dropped, so none can straddle splits
    assert all(p.split == C.split_of(p.fingerprint) for p in data.pieces)
    assert all(p.id == C.piece_id(p.style, p.source) for p in data.pieces)
    ends = [p.note_start + p.note_count for p in data.pieces]
    assert ends[-1] == len(data.notes)
    for p in data.pieces:
        assert p.attributes["density_band"] in ("sparse", "moderate", "dense")
        assert p.attributes["register_band"] in ("low", "middle", "high")
        assert p.mode == p.attributes["mode"] and p.key.endswith(p.mode)


def test_piece_materialises_from_the_arrays(data):
    for style in C.STYLES:
        info = data.select("train", style)[0]
        piece = data.piece(info.id)
        assert piece.note_count == info.note_count >= C.MIN_NOTES
        assert piece.time_signature == info.meter
        assert data.piece(data.index(info.id)).parts[0].notes == piece.parts[0].notes
        rows = data.note_array(info.id)
        assert (rows["piece"] == data.index(info.id)).all()
        from generation.music.attributes import measure_attributes

        again = measure_attributes(piece)
        assert again["density"] == pytest.approx(info.attributes["density"], abs=1e-3)
        assert again["register"] == pytest.approx(info.attributes["register"], abs=1e-3)


def test_iter_filters_by_split_and_style(data):
    from itertools import islice

    got = list(islice(data.iter("valid", "celtic"), 5))
    assert len(got) == 5
    assert all((info.style, info.split) == ("celtic", "valid") for info, _ in got)
    assert all(piece.note_count == info.note_count for info, piece in got)


def test_renaissance_pieces_are_whole_works_not_single_voices(data):
    ren = data.select(None, "renaissance")
    assert not [p.source for p in ren if p.source.endswith(".rntxt")]  # analyses, not music
    josquin = [p for p in ren if p.source.startswith("josquin/")]
    assert josquin and all(len(p.parts) >= 2 for p in josquin)  # one is a duo section
    assert sum(len(p.parts) >= 3 for p in ren) / len(ren) > 0.95


def test_compressed_cache_is_expanded_once_and_memory_mapped(data, tmp_path, monkeypatch):
    small = tmp_path / "corpus_small"
    small.mkdir()
    infos = data.pieces[:30]
    n = infos[-1].note_start + infos[-1].note_count
    np.savez_compressed(small / "notes.npz", notes=np.asarray(data.notes[:n]))
    from dataclasses import asdict

    C.write_pieces_json(small / "pieces.json", [asdict(p) for p in infos])
    monkeypatch.setattr(C, "EXPAND_DIR", tmp_path / "var-cache")
    small_data = C.load_corpus(small)
    expanded = list((tmp_path / "var-cache").glob("*.npy"))
    assert len(expanded) == 1 and isinstance(small_data.notes, np.memmap)
    assert small_data.piece(infos[7].id).parts == data.piece(infos[7].id).parts


def test_build_dataset_command_end_to_end(tmp_path, monkeypatch):
    """Two chorales through the real command: parse, write, freeze edges (in a schema copy)."""
    from django.core.management import call_command

    from generation.music import schema

    schema_copy = tmp_path / "attributes_schema.json"
    unfrozen = json.loads(schema.SCHEMA_PATH.read_text())
    for attr in ("density_band", "register_band"):
        unfrozen["attributes"][attr]["edges"] = None
    text = json.dumps(unfrozen, indent=2)
    schema_copy.write_text(text)
    committed = schema.SCHEMA_PATH.read_text()
    monkeypatch.setattr(schema, "SCHEMA_PATH", schema_copy)
    schema.load_schema.cache_clear()
    assert schema.band_edges("density_band") is None
    out = tmp_path / "built"
    try:
        call_command("build_dataset", "--styles", "chorale", "--limit-per-style", "2",
                     "--workers", "1", "--out", str(out), "--no-progress")
        assert schema.band_edges("density_band") is not None  # frozen into the copy
    finally:
        schema.load_schema.cache_clear()
    assert schema.SCHEMA_PATH.read_text() != text
    monkeypatch.undo()
    schema.load_schema.cache_clear()
    assert schema.SCHEMA_PATH.read_text() == committed  # the real schema is untouched
    built = C.load_corpus(out)
    assert 1 <= len(built) <= 2 and {p.style for p in built.pieces} == {"chorale"}
    assert built.manifest["rebuild_command"].startswith("python manage.py build_dataset")
    assert built.piece(0).note_count == built.pieces[0].note_count
