"""Style transfer of whole pieces: decoding, routing through the hub, meter and length kept.

The models here are tiny and trained for a few steps inside the test (their musical quality is
not the point: the transfer machinery around them is); the committed checkpoints are only used
where a test says so.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from generation.ml.train_cyclegan import train_pair
from generation.ml.transfer import (
    MIN_STEPS,
    STYLE_PROGRAMS,
    TransferError,
    decode_phrase,
    find_route,
    trained_pairs,
    transfer_style,
)
from generation.music.notes import piece_from_midi, piece_to_midi_bytes
from generation.music.pianoroll import PITCH_LOW, STEPS_PER_QUARTER, piece_to_phrases

torch.set_num_threads(1)


def _bank(data, style: str, n: int = 10) -> np.ndarray:
    rolls = []
    for _info, piece in data.iter(split="train", style=style):
        rolls.append((piece_to_phrases(piece, drop_empty=True).rolls > 0.5).astype(np.uint8))
        if sum(len(r) for r in rolls) >= n:
            break
    return np.concatenate(rolls)[:n]


@pytest.fixture(scope="module")
def corpus():
    from generation.music.corpus import load_corpus

    return load_corpus()


@pytest.fixture(scope="module")
def star(corpus, tmp_path_factory) -> Path:
    """Two tiny pairs around the hub german_folk: german_folk<->chorale, german_folk<->celtic."""
    root = tmp_path_factory.mktemp("cyclegan")
    folk = _bank(corpus, "german_folk")
    for other in ("chorale", "celtic"):
        train_pair("german_folk", other, max_steps=4, tiny=True,
                   out_dir=root / f"german_folk__{other}", banks=(folk, _bank(corpus, other)),
                   progress=False)
    return root


def _piece(corpus, style: str, meter: tuple[int, int]):
    for info in corpus.select(split="test", style=style):
        if info.meter == meter and 6 <= info.bars <= 40:
            return corpus.piece(info.id)
    pytest.fail(f"no {style} test piece in {meter}")


@pytest.mark.parametrize("meter", [(4, 4), (3, 4)])
def test_a_corpus_piece_transfers_to_valid_midi_of_the_same_length_in_bars(corpus, star,
                                                                           meter):
    piece = _piece(corpus, "german_folk", meter)
    result = transfer_style(piece, "chorale", from_style="german_folk", root=star)
    out = result.piece
    assert result.route == ["german_folk", "chorale"] and not result.unchanged
    assert not result.guessed and len(result.model_version) == 12
    back = piece_from_midi(piece_to_midi_bytes(out))  # valid MIDI, read by another library
    assert back.note_count == out.note_count > 0
    assert back.time_signature == meter and out.time_signatures == piece.time_signatures
    assert back.tempo_bpm == pytest.approx(piece.tempo_bpm, abs=0.01)
    assert back.bars == piece.bars
    assert back.parts[0].program == STYLE_PROGRAMS["chorale"][0]


def test_a_route_without_a_direct_pair_goes_through_the_hub(corpus, star):
    piece = _piece(corpus, "celtic", (4, 4)) if any(
        i.meter == (4, 4) for i in corpus.select("test", "celtic")) else _piece(
        corpus, "celtic", (6, 8))
    result = transfer_style(piece, "chorale", from_style="celtic", root=star)
    assert result.route == ["celtic", "german_folk", "chorale"]
    direct = transfer_style(piece, "german_folk", from_style="celtic", root=star)
    assert result.model_version != direct.model_version
    assert result.piece.bars == piece.bars


def test_the_same_style_returns_the_piece_unchanged(corpus, star):
    piece = _piece(corpus, "chorale", (4, 4))
    result = transfer_style(piece, "chorale", from_style="chorale", root=star)
    assert result.unchanged and result.piece is piece
    assert result.route == ["chorale"] and result.model_version == ""


def test_find_route_prefers_a_direct_pair_and_refuses_unconnected_styles():
    star_pairs = [("german_folk", s) for s in ("chorale", "celtic", "chinese_folk")]
    assert find_route("chinese_folk", "celtic", star_pairs) == [
        "chinese_folk", "german_folk", "celtic"]
    assert find_route("celtic", "german_folk", star_pairs) == ["celtic", "german_folk"]
    with pytest.raises(TransferError):
        find_route("chorale", "renaissance", star_pairs)


def test_unknown_styles_and_missing_models_are_refused(corpus, star, tmp_path):
    piece = _piece(corpus, "chorale", (4, 4))
    with pytest.raises(TransferError, match="Unknown target style"):
        transfer_style(piece, "jazz", from_style="chorale", root=star)
    with pytest.raises(FileNotFoundError):
        transfer_style(piece, "celtic", from_style="chorale", root=tmp_path)
    assert trained_pairs(star) == [("german_folk", "celtic"), ("german_folk", "chorale")]


@pytest.mark.parametrize("seed", range(5))
def test_decoded_phrases_play_without_stutters_within_range_and_voices(seed):
    rng = np.random.default_rng(seed)
    probs = rng.random((2, 84, 64)).astype(np.float32) ** 3  # a noisy, mostly quiet output
    facts = {"pitch_low": 55, "pitch_high": 88, "max_voices": 2}
    source = (rng.random((2, 84, 64)) > 0.97).astype(np.float32)
    roll = decode_phrase(probs, facts, n_steps=48, source=source)
    sound, onset = roll[0] > 0, roll[1] > 0
    assert not sound[:, 48:].any()  # nothing past the phrase (3/4: 48 of 64 steps)
    assert sound.sum(axis=0).max() <= 2
    rows = np.flatnonzero(sound.any(axis=1))
    assert rows.min() + PITCH_LOW >= 55 and rows.max() + PITCH_LOW <= 88
    assert (onset <= sound).all()
    for p in rows:  # every note lasts MIN_STEPS or runs into the phrase end
        starts = np.flatnonzero(onset[p])
        assert np.all(np.diff(starts) >= MIN_STEPS)
        for t in starts:
            length = 1
            while t + length < 48 and sound[p, t + length] and not onset[p, t + length]:
                length += 1
            assert length >= MIN_STEPS or t + length == 48
    assert onset.sum() >= 0.5 * min(source[1, :, :48].sum(), 2 * 48 / MIN_STEPS) - 1


def test_decoding_keeps_a_confident_melody_exactly():
    probs = np.zeros((2, 84, 64), dtype=np.float32)
    melody = [(0, 60, 4), (4, 62, 4), (8, 64, 8), (16, 64, 2), (18, 65, 6)]
    for t, pitch, length in melody:
        probs[0, pitch - PITCH_LOW, t:t + length] = 0.9
        probs[1, pitch - PITCH_LOW, t] = 0.9
    roll = decode_phrase(probs, {"pitch_low": 40, "pitch_high": 90, "max_voices": 1})
    notes = [(int(t), int(p) + PITCH_LOW) for p, t in zip(*np.nonzero(roll[1]), strict=True)]
    assert sorted(notes) == [(t, pitch) for t, pitch, _ in melody]
    assert roll[0].sum() == sum(length for *_, length in melody)


def test_the_command_refuses_a_damaged_file_with_one_line(tmp_path, capsys):
    from django.core.management import call_command

    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06garbage")
    with pytest.raises(SystemExit) as exc:
        call_command("transfer_style", str(bad), "--to", "celtic", "--out", str(tmp_path))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.strip()


def test_the_command_writes_midi_and_reports_json_with_the_committed_models(corpus, tmp_path):
    from django.core.management import call_command

    assert trained_pairs(), "the committed CycleGAN checkpoints are missing"
    piece = _piece(corpus, "chorale", (4, 4))
    src = tmp_path / "chorale.mid"
    src.write_bytes(piece_to_midi_bytes(piece))
    buf = io.StringIO()
    call_command("transfer_style", str(src), "--to", "german_folk", "--out",
                 str(tmp_path / "out"), stdout=buf)
    report = json.loads(buf.getvalue())
    assert set(report) == {"files", "source_style", "guessed", "route", "model_version",
                           "seconds", "unchanged"}
    assert report["guessed"] is True and report["route"][-1] == "german_folk"
    out = piece_from_midi(Path(report["files"]["midi"]))
    assert out.bars == piece.bars
    steps = [n.duration * STEPS_PER_QUARTER for n in out.all_notes()]
    assert min(steps) >= 1


def test_new_notes_stay_in_the_source_key_unless_the_source_has_them():
    probs = np.zeros((2, 84, 64), dtype=np.float32)
    for pitch in (60, 61, 63):  # C, C#, E-flat: equally confident at step 0
        probs[:, pitch - PITCH_LOW, 0:4] = 0.8
    c_major = np.zeros(12, dtype=bool)
    c_major[[0, 2, 4, 5, 7, 9, 11]] = True
    # a sparse target (two onsets a phrase), so the threshold is not lowered for density
    facts = {"pitch_low": 40, "pitch_high": 90, "max_voices": 4, "onsets_per_step": 0.03}
    source = np.zeros((2, 84, 64), dtype=np.float32)
    source[:, 63 - PITCH_LOW, 0:4] = 1.0  # the source itself plays E-flat
    roll = decode_phrase(probs, facts, source=source, scale=c_major)
    started = {int(p) + PITCH_LOW for p in np.flatnonzero(roll[1, :, 0])}
    assert started == {60, 63}


def _chord_roll(voices: list[list[tuple[int, int, int]]]) -> np.ndarray:
    """(1, 2, 84, 64) roll from voices of (step, pitch, length) notes."""
    roll = np.zeros((1, 2, 84, 64), dtype=np.float32)
    for voice in voices:
        for t, pitch, length in voice:
            roll[0, 0, pitch - PITCH_LOW, t:t + length] = 1
            roll[0, 1, pitch - PITCH_LOW, t] = 1
    return roll


def test_content_retention_counts_onsets_and_the_top_line_separately():
    from generation.ml.evaluate_transfer import onsets_kept
    from generation.ml.transfer import top_line

    soprano = [(0, 72, 8), (8, 74, 4), (12, 76, 4)]
    alto = [(0, 65, 4), (4, 67, 12)]
    bass = [(0, 48, 16)]
    chorale = _chord_roll([soprano, alto, bass])
    melody = top_line(chorale)
    starts = sorted((int(t), int(p) + PITCH_LOW) for p, t in zip(*np.nonzero(melody[0, 1]),
                                                                    strict=True))
    assert starts == [(0, 72), (8, 74), (12, 76)]  # inner voices' onsets are not the top line
    assert melody[0, 0].sum(axis=0).max() == 1  # one pitch at a time

    # a one-voice output that keeps the tune, one step late for its last note
    tune = _chord_roll([[(0, 72, 8), (8, 74, 5), (13, 76, 3)]])
    assert onsets_kept(chorale, tune) == pytest.approx(3 / 6)
    assert onsets_kept(melody, tune) == 1.0
    assert onsets_kept(top_line(tune), tune) == 1.0  # a one-voice source is its own top line
    # the wrong pitch, or two steps off, is not kept
    moved = _chord_roll([[(0, 71, 8), (10, 74, 6)]])
    assert onsets_kept(melody, moved) == 0.0


def test_reducing_voices_keeps_the_sources_top_line_over_a_new_one():
    soprano = [(0, 72, 8), (8, 74, 8)]
    chorale = _chord_roll([soprano, [(0, 65, 16)], [(0, 60, 16)], [(0, 48, 16)]])[0]
    probs = np.zeros((2, 84, 64), dtype=np.float32)
    for t, pitch, length in soprano:  # the generator half-remembers the tune...
        probs[0, pitch - PITCH_LOW, t:t + length] = 0.3
        probs[1, pitch - PITCH_LOW, t] = 0.3
    for t, pitch in ((0, 79), (8, 77)):  # ...and is surer of a line of its own
        probs[0, pitch - PITCH_LOW, t:t + 8] = 0.6
        probs[1, pitch - PITCH_LOW, t] = 0.6
    one_voice = {"pitch_low": 40, "pitch_high": 90, "max_voices": 1, "onsets_per_step": 0.01}

    def starts(roll):
        return sorted((int(t), int(p) + PITCH_LOW) for p, t in zip(*np.nonzero(roll[1]),
                                                                    strict=True))

    # four voices into one: the tune survives
    assert starts(decode_phrase(probs, one_voice, 16, source=chorale)) == [(0, 72), (8, 74)]
    # switched off (the evaluation's cycle, steered by nothing but the generator)
    assert starts(decode_phrase(probs, one_voice, 16, source=chorale,
                                keep_top_line=False)) == [(0, 79), (8, 77)]
    # one voice into one: no reduction, the generator's own line is taken
    tune = _chord_roll([soprano])[0]
    assert starts(decode_phrase(probs, one_voice, 16, source=tune)) == [(0, 79), (8, 77)]
