"""The canonical Piece and its conversions: MIDI and MusicXML out and back."""

import pytest
from music21 import corpus

from generation.music.notes import (
    Note,
    Part,
    Piece,
    piece_from_midi,
    piece_from_music21,
    piece_from_musicxml,
    piece_to_midi_bytes,
    piece_to_musicxml,
)


def _notes(piece):
    return sorted((n.onset, n.pitch, n.duration) for n in piece.all_notes())


def test_a_chorale_survives_midi_exactly_with_its_meter_key_and_tempo():
    piece = piece_from_music21(corpus.parse("bach/bwv66.6"))
    back = piece_from_midi(piece_to_midi_bytes(piece))
    assert _notes(back) == _notes(piece)
    assert back.time_signature == (4, 4) and back.key == "F# minor"
    assert back.tempo_bpm == pytest.approx(piece.tempo_bpm)


@pytest.mark.parametrize("title", ["雨夜里的思念", "stormy night at sea ⛈️", "Été à Paris"])
def test_titles_in_any_language_are_written(title):
    piece = Piece(parts=[Part(notes=[Note(0.0, 60, 1.0), Note(1.0, 64, 1.0)],
                              name=title)], title=title)
    back = piece_from_midi(piece_to_midi_bytes(piece))
    assert _notes(back) == _notes(piece)
    assert back.parts[0].name == title  # read back as written, not double-encoded


def test_an_older_latin1_file_still_reads_its_names():
    import io

    import mido

    mid = mido.MidiFile(type=1, charset="latin1")
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="Café"),
                            mido.Message("note_on", note=60, velocity=80, time=0),
                            mido.Message("note_off", note=60, velocity=0, time=480)])
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    assert b"Caf\xe9" in buf.getvalue()  # not valid UTF-8
    assert piece_from_midi(buf.getvalue()).parts[0].name == "Café"


def test_tempo_and_meter_changes_survive_midi():
    piece = Piece(parts=[Part(notes=[Note(float(i), 60 + i, 1.0) for i in range(12)])],
                  tempos=[(0.0, 90.0), (6.0, 140.0)],
                  time_signatures=[(0.0, 3, 4), (6.0, 2, 4)])
    back = piece_from_midi(piece_to_midi_bytes(piece))
    assert [(b, round(t, 3)) for b, t in back.tempos] == [(0.0, 90.0), (6.0, 140.0)]
    assert back.time_signatures == [(0.0, 3, 4), (6.0, 2, 4)]
    assert back.duration_seconds == pytest.approx(6 * 60 / 90 + 6 * 60 / 140)


def test_musicxml_keeps_the_notes_and_spells_no_needless_naturals(tmp_path):
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    piece = Piece(parts=[Part(notes=[Note(float(i), p, 1.0) for i, p in enumerate(scale)])],
                  key="C major", tempos=[(0.0, 100.0)])
    path = piece_to_musicxml(piece, tmp_path / "scale.musicxml")
    assert "<accidental>" not in path.read_text()
    back = piece_from_musicxml(path)
    assert _notes(back) == _notes(piece)
    assert back.tempo_bpm == pytest.approx(100.0)
