"""Checks that a finished track's files are there and well-formed, read back as a listener's
tools would read them (not by size): the MIDI parses, the MusicXML is a score with the
expected bars, each SVG page is an SVG document, the timemap is ordered, the audio decodes
to the track's length, the piano rolls are PNG images."""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

from django.conf import settings

from generation.music.notes import Piece, piece_from_midi


def media(relative: str) -> Path:
    path = Path(settings.MEDIA_ROOT) / relative
    assert path.is_file(), f"{relative} is missing"
    return path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", path.name
    return struct.unpack(">II", data[16:24])


def audio_seconds(path: Path) -> float:
    import soundfile

    info = soundfile.info(str(path))
    assert info.frames > 0 and info.samplerate > 0, path.name
    return info.frames / info.samplerate


def score_bars(path: Path) -> int:
    """Measures of the first part of a MusicXML file."""
    root = ET.parse(path).getroot()
    assert root.tag == "score-partwise", root.tag
    part = root.find("part")
    assert part is not None, "a score without parts"
    return len(part.findall("measure"))


def check_track_files(track, *, bars: int | None = None, transfer: bool = False) -> Piece:
    """Assert every file of ``track`` is well-formed; return its MIDI read back.

    ``bars``: the number of bars the MIDI and the score must have."""
    files = track.files
    kinds = {"midi", "musicxml", "svg", "timemap", "audio", "pianoroll"}
    if transfer:
        kinds |= {"original_audio", "original_pianoroll"}
    assert kinds <= set(files), sorted(files)
    piece = piece_from_midi(media(files["midi"]))
    assert piece.note_count > 0
    if bars is not None:
        assert piece.bars == bars, (piece.bars, bars)
        assert score_bars(media(files["musicxml"])) == bars
    else:
        score_bars(media(files["musicxml"]))
    assert files["svg"], "no engraved page"
    for page in files["svg"]:
        root = ET.parse(media(page)).getroot()
        assert root.tag.endswith("svg"), page
        assert root.findall(".//{http://www.w3.org/2000/svg}g"), f"{page} draws nothing"
    timemap = json.loads(media(files["timemap"]).read_text())
    stamps = [e["tstamp"] for e in timemap]
    assert stamps and stamps == sorted(stamps)
    seconds = audio_seconds(media(files["audio"]))
    music = piece.beat_to_seconds(piece.end_beat)
    # the audio holds the music plus at most a few seconds of release tail
    assert music - 0.1 <= seconds <= music + 6.0, (seconds, music)
    assert abs(track.duration_seconds - seconds) < 1.0, (track.duration_seconds, seconds)
    width, height = png_size(media(files["pianoroll"]))
    assert width > 100 and height > 50
    if transfer:
        assert audio_seconds(media(files["original_audio"])) > 0.5
        png_size(media(files["original_pianoroll"]))
    return piece
