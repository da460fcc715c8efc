"""The engine API behind `manage.py compose` / `continue_midi`: files, JSON, bad input.

A tiny untrained checkpoint stands in for the committed model, so the file runs in seconds
and tests the plumbing (files, seeds, validation, exit codes), not musical quality.
"""

from __future__ import annotations

import json

import pytest
import torch
from django.core.management import call_command

from generation.ml import compose as compose_mod
from generation.ml.compose import ComposeInputError, compose_to_files, continue_midi_file
from generation.ml.train_transformer import save_checkpoint
from generation.ml.transformer import MusicTransformer, TransformerConfig
from generation.music.notes import piece_from_midi
from generation.music.tokenizer import Tokenizer
from generation.music.validate import validate_midi

VALID = __import__("pathlib").Path(__file__).parent / "data" / "valid_midi"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    torch.manual_seed(0)
    tok = Tokenizer()
    cfg = TransformerConfig(vocab_size=tok.vocab_size, block_size=64, n_layer=1, n_head=2,
                            n_embd=32, dropout=0.0)
    folder = tmp_path_factory.mktemp("ckpt")
    save_checkpoint(folder, MusicTransformer(cfg), tok, {"step": 0})
    return compose_mod.load_model(folder, "cpu")


@pytest.fixture
def default_is_tiny(engine, monkeypatch):
    """The commands' default model is the tiny v1 engine (v1 served, its loader patched)."""
    from generation.ml import engines

    monkeypatch.setattr(engines, "SERVED", "v1")
    monkeypatch.setattr(compose_mod, "load_default_model", lambda device=None: engine)
    return engine


def test_compose_writes_one_midi_file_per_variant_with_the_mood_tempo(engine, tmp_path):
    out = compose_to_files(tmp_path, mood="a calm, slow evening by the lake", bars=2,
                           variants=2, seed=5, model=engine)
    assert [v["files"]["midi"] for v in out["variants"]] == [
        str(tmp_path / "variant-1.mid"), str(tmp_path / "variant-2.mid")]
    assert out["files"]["midi"] == str(tmp_path / "variant-1.mid")
    assert out["model_version"] == engine.version
    assert set(out["seconds"]) >= {"mood", "generate", "write"}
    piece = piece_from_midi(tmp_path / "variant-1.mid")
    assert piece.tempo_bpm == pytest.approx(out["attributes"]["tempo_bpm"], abs=0.01)
    assert out["variants"][0]["seed"] == 5 and out["variants"][1]["seed"] == 6


def test_the_same_seed_writes_the_same_notes(engine, tmp_path):
    attrs = {"mode": "minor", "density_band": "dense", "register_band": "high"}
    a = compose_to_files(tmp_path / "a", attributes=attrs, style="celtic", bars=2, seed=9,
                         model=engine)
    b = compose_to_files(tmp_path / "b", attributes=attrs, style="celtic", bars=2, seed=9,
                         variants=3, model=engine)
    first = piece_from_midi(a["files"]["midi"]).all_notes()
    assert first == piece_from_midi(b["files"]["midi"]).all_notes()
    assert first  # not an empty piece


def test_continue_midi_keeps_the_validated_seed_and_adds_bars(engine, tmp_path):
    path = VALID / "waltz_3_4.mid"
    seed = validate_midi(path.read_bytes()).piece
    out = continue_midi_file(path, tmp_path, bars=2, seed=1, model=engine)
    result = piece_from_midi(out["files"]["midi"])
    boundary = out["boundary_beat"]
    assert boundary >= seed.end_beat
    def key(n):
        return (round(n.onset, 4), n.pitch, round(n.duration, 4), n.velocity)

    before = sorted(key(n) for n in result.all_notes() if n.onset < boundary - 1e-9)
    assert before == sorted(key(n) for n in seed.all_notes())
    assert result.note_count > seed.note_count  # new bars were added after the boundary
    assert result.time_signature == (3, 4)


@pytest.mark.parametrize(("args", "message"), [
    (["--attributes", "{not json"], "not valid JSON"),
    (["--attributes", "[1, 2]"], "JSON object"),
    (["--attributes", '{"mode": "lydian"}'], "mode must be one of"),
    (["--mood", "calm", "--bars", "0"], "bars must be"),
    (["--mood", "calm", "--style", "jazz"], "unknown style"),
    (["--mood", "   "], ""),
    (["--mood", "calm", "--guidance", "-1"], "guidance must be"),
    (["--mood", "calm", "--candidates", "0"], "candidates must be"),
])
def test_compose_command_refuses_bad_input_with_status_2(default_is_tiny, tmp_path, capsys,
                                                         args, message):
    with pytest.raises(SystemExit) as exc:
        call_command("compose", *args, "--out", str(tmp_path))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert not list(tmp_path.glob("*.mid"))


def test_continue_command_runs_the_upload_validation(default_is_tiny, tmp_path, capsys):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not midi at all")
    with pytest.raises(SystemExit) as exc:
        call_command("continue_midi", str(bad), "--out", str(tmp_path / "out"))
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
    with pytest.raises(ComposeInputError):
        continue_midi_file(tmp_path / "missing.mid", tmp_path, model=default_is_tiny)


def test_commands_print_one_json_object(default_is_tiny, tmp_path, capsys):
    call_command("compose", "--attributes", '{"mode": "major"}', "--bars", "1", "--seed", "3",
                 "--out", str(tmp_path / "c"))
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"files", "variants", "attributes", "model_version", "seconds"}
    call_command("continue_midi", str(VALID / "jig_6_8.mid"), "--bars", "1", "--variants",
                 "2", "--seed", "4", "--out", str(tmp_path / "j"))
    data = json.loads(capsys.readouterr().out)
    assert len(data["variants"]) == 2 and (tmp_path / "j" / "variant-2.mid").exists()


def test_steering_options_reach_the_engine_and_the_json(default_is_tiny, tmp_path, capsys):
    """--guidance 0 --candidates 1 is plain sampling: the same notes as compose() with those
    settings, and different from the default (guided, reranked) result for that seed."""
    from generation.ml.compose import compose

    engine = default_is_tiny
    attrs = {"mode": "minor", "density_band": "sparse", "register_band": "high"}
    call_command("compose", "--attributes", json.dumps(attrs), "--style", "chorale",
                 "--bars", "2", "--seed", "5", "--guidance", "0", "--candidates", "1",
                 "--out", str(tmp_path / "plain"))
    data = json.loads(capsys.readouterr().out)
    assert data["guidance"] == 0 and data["candidates"] == 1
    plain = compose(attrs, "chorale", bars=2, seed=5, model=engine, guidance=0, candidates=1)
    steered = compose(attrs, "chorale", bars=2, seed=5, model=engine)
    got = piece_from_midi((tmp_path / "plain" / "variant-1.mid").read_bytes())
    def notes(piece):
        return sorted((round(n.onset, 3), n.pitch, round(n.duration, 3), n.velocity)
                      for n in piece.all_notes())

    assert notes(got) and notes(got) == notes(plain[0].piece)
    assert plain[0].tokens != steered[0].tokens
