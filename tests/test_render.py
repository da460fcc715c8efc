"""Rendering a real corpus chorale: MusicXML, engraved SVG pages, timemap, audio, piano roll.

Engine-only: no Django is imported here.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from generation.music.notes import Note, Part, Piece, piece_from_music21, piece_from_musicxml
from generation.render.audio import (
    RELEASE_SECONDS,
    SoundfontMissing,
    find_soundfont,
    render_audio,
)
from generation.render.notation import render_notation
from generation.render.pianoroll_image import render_pianoroll

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def chorale() -> Piece:
    from music21 import corpus

    return piece_from_music21(corpus.parse("bach/bwv66.6"), title="BWV 66.6")


@pytest.fixture(scope="module")
def notation(chorale, tmp_path_factory):
    out = tmp_path_factory.mktemp("notation")
    return render_notation(chorale, out)


def test_musicxml_parses_back_with_the_same_notes(chorale, notation):
    back = piece_from_musicxml(notation["musicxml"])
    assert back.note_count == chorale.note_count
    assert sorted(n.pitch for n in back.all_notes()) == sorted(n.pitch for n in chorale.all_notes())


def test_every_engraved_page_is_an_svg_file(notation):
    assert notation["pages"] >= 1
    assert len(notation["svg"]) == notation["pages"]
    for i, path in enumerate(notation["svg"], start=1):
        assert path.name == f"score-{i}.svg"
        text = path.read_text()
        assert "<svg" in text
        # the music font is embedded, nothing is fetched from the web
        assert "@import" not in text and "https://" not in text


def test_the_phone_layout_is_narrower_with_the_same_note_ids(notation):
    import re

    def note_ids(paths):
        return {i for p in paths for i in re.findall(r'<g id="([^"]+)" class="note"', p.read_text())}

    def width(path):
        return float(re.search(r'<svg viewBox="0 0 ([\d.]+) ', path.read_text()).group(1))

    assert notation["svg_phone"] and len(notation["svg_phone"]) >= notation["pages"]
    assert all(p.name == f"score-phone-{i}.svg" for i, p in enumerate(notation["svg_phone"], 1))
    assert width(notation["svg_phone"][0]) <= width(notation["svg"][0]) / 2
    # one timemap serves both layouts: the ids it names are in each
    timemap = json.loads(notation["timemap"].read_text())
    sounding = {i for e in timemap for i in e.get("on", [])}
    assert sounding and sounding <= note_ids(notation["svg"])
    assert sounding <= note_ids(notation["svg_phone"])


def test_timemap_follows_the_music_in_time(chorale, notation):
    timemap = json.loads(notation["timemap"].read_text())
    assert len(timemap) > 10
    stamps = [entry["tstamp"] for entry in timemap]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert any(entry.get("on") for entry in timemap)
    # the last event is the end of the music, timed as the audio is (ms)
    assert stamps[-1] == chorale.duration_seconds * 1000


def test_a_rerender_removes_stale_pages(tmp_path, chorale):
    (tmp_path / "score-7.svg").write_text("<svg/>")
    result = render_notation(chorale, tmp_path)
    assert not (tmp_path / "score-7.svg").exists()
    assert sorted(p.name for p in tmp_path.glob("score-*.svg")) == sorted(
        p.name for p in result["svg"] + result["svg_phone"]
    )


@pytest.mark.parametrize("fmt", ["ogg", "mp3"])
def test_audio_has_the_music_length_and_is_not_silent(chorale, tmp_path, fmt):
    result = render_audio(chorale, tmp_path / f"track.{fmt}", fmt=fmt)
    data, rate = sf.read(str(result.path), dtype="float32")
    assert rate == 44100 and data.ndim == 2 and data.shape[1] == 2
    decoded_seconds = len(data) / rate
    assert abs(decoded_seconds - chorale.duration_seconds) <= 0.5 + RELEASE_SECONDS
    assert decoded_seconds >= chorale.duration_seconds - 0.5
    rms = float(np.sqrt(np.mean(np.square(data))))
    assert rms > 0.02  # -34 dBFS; silence would be ~0
    assert result.rms > 0.02
    # the music plays through: every second of the piece has sound in it
    for second in range(int(chorale.duration_seconds)):
        window = data[second * rate : (second + 1) * rate]
        assert np.abs(window).max() > 0.01, f"silent at {second} s"


def test_audio_renders_from_a_midi_file_and_plays_drums(tmp_path):
    from generation.music.notes import write_midi

    beat = [Note(float(i), 36 if i % 2 == 0 else 38, 0.25, 100) for i in range(8)]
    piece = Piece(parts=[Part(notes=beat, is_drum=True, name="drums")], tempos=[(0.0, 120.0)])
    midi = write_midi(piece, tmp_path / "drums.mid")
    result = render_audio(midi, tmp_path / "drums.ogg")
    data, rate = sf.read(str(result.path), dtype="float32")
    assert 4.0 - 0.5 <= len(data) / rate <= 4.0 + 0.5 + RELEASE_SECONDS
    assert float(np.sqrt(np.mean(np.square(data)))) > 0.01


def test_a_missing_soundfont_is_a_clear_error(tmp_path, monkeypatch):
    import generation.render.audio as audio

    monkeypatch.setenv("SOUNDFONT_PATH", str(tmp_path / "nope.sf2"))
    monkeypatch.setattr(audio, "SOUNDFONT_CANDIDATES", ())
    with pytest.raises(SoundfontMissing, match="SOUNDFONT_PATH"):
        find_soundfont()


def test_the_piano_roll_draws_each_note_where_its_pitch_and_time_are(tmp_path):
    """Read back from the image: the part's note colour (at the notes' alpha over white) lies
    in two blocks, a high one over beats 0-4 and a low one over beats 12-16 (as wide as each
    other, twice as far apart), and the red boundary line is halfway, at beat 8."""
    from PIL import Image

    from generation.render.pianoroll_image import PART_COLOURS

    notes = [Note(0.0, 72, 4.0, 90), Note(12.0, 48, 4.0, 90)]
    piece = Piece(parts=[Part(notes=notes, name="line")], tempos=[(0.0, 120.0)])
    path = render_pianoroll(piece, tmp_path / "roll.png", boundary_beat=8.0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=float) / 255.0

    def pixels_of(colour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ys, xs = np.nonzero(np.all(np.abs(rgb - colour) < 0.04, axis=2))
        return xs, ys

    hexcode = PART_COLOURS[0].lstrip("#")
    pure = np.array([int(hexcode[i : i + 2], 16) for i in (0, 2, 4)]) / 255.0
    xs, ys = pixels_of(0.85 * pure + 0.15)  # alpha 0.85 over the white axes
    assert len(xs) > 500, "no notes drawn"
    middle = (xs.min() + xs.max()) / 2
    left, right = xs < middle, xs >= middle
    assert left.sum() > 200 and right.sum() > 200
    # time: each block spans 4 beats; the gap between them spans 8
    width_left = xs[left].max() - xs[left].min()
    width_right = xs[right].max() - xs[right].min()
    gap = xs[right].min() - xs[left].max()
    assert abs(width_left - width_right) <= 3
    assert abs(gap - 2 * width_left) <= 12, (width_left, gap)  # a beat is ~70 px
    # pitch: the first note (72) is drawn above the second (48); image rows grow downwards
    assert ys[left].max() < ys[right].min()
    # the boundary (red dashes) stands at beat 8: halfway between the blocks' outer edges
    red_x, _ = pixels_of(np.array([0xD6, 0x27, 0x28]) / 255.0)
    assert len(red_x) > 20
    assert abs(np.median(red_x) - (xs.min() + xs.max()) / 2) <= 3


def test_a_render_does_not_hear_the_one_before_it(chorale):
    from generation.render.audio import synthesize

    first, _ = synthesize(chorale)
    short = Piece(parts=[Part(notes=[Note(0.0, 72, 0.5, 90)])], tempos=[(0.0, 120.0)])
    audio, _ = synthesize(short)  # right after the chorale, on the same synth
    # one quarter second of note plus its release, not the chorale's last chord
    assert len(audio) / 44100 <= 0.25 + RELEASE_SECONDS + 0.01
    again, _ = synthesize(chorale)
    # the same music: loudness envelopes (100 ms windows) agree within 1.5 dB wherever the
    # music is audible (the reverb's modulation phase differs, so samples are not equal)
    n = min(len(again), len(first)) // 4410 * 4410

    def envelope(audio):
        windows = audio[:n].reshape(-1, 4410, 2)
        return 20 * np.log10(np.sqrt(np.mean(np.square(windows), axis=(1, 2))) + 1e-9)

    a, b = envelope(first), envelope(again)
    audible = a > -50
    assert audible.sum() > 100
    assert float(np.abs(a[audible] - b[audible]).max()) < 1.5


def test_dynamics_set_the_level_of_the_audio(chorale, tmp_path):
    quiet = render_audio(chorale, tmp_path / "pp.ogg", dynamics="pp")
    loud = render_audio(chorale, tmp_path / "ff.ogg", dynamics="ff")
    assert 20 * np.log10(loud.rms / quiet.rms) > 6  # pp is clearly softer than ff
    assert loud.peak <= 0.9
