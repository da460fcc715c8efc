"""Write the MIDI upload test files: hostile ones that must be refused, valid ones that must
pass.

    .venv/bin/python scripts/make_hostile_midis.py

Deterministic (fixed seed, no timestamps): running it again rewrites byte-identical files.
Writes
- ``tests/data/hostile_midi/*.mid`` plus ``MANIFEST.json`` (file -> what it is and which words
  the refusal message must contain), every file under 1 MB;
- ``tests/data/valid_midi/*.mid`` plus ``EXPECTED.json`` (file -> meter, bars, notes, ...),
  built with mido; the expectations come from how each file is constructed here, not from
  the validator.

The two files that would bloat the repository (over 1 MB; a million notes) are built at test
time by ``huge_file()`` and ``million_notes_file()``, which the tests import from here.
"""

from __future__ import annotations

import io
import json
import random
import struct
import sys
import wave
import zipfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_DIR = ROOT / "tests" / "data" / "hostile_midi"
VALID_DIR = ROOT / "tests" / "data" / "valid_midi"
SEED = 20261125

# The refusal messages' key words (see generation/music/validate.py).
NOT_MIDI = "not a MIDI file"
DAMAGED = "damaged"
MID_TRACK = "ends in the middle of a track"
UNREADABLE_VALUE = "unreadable time or length value"
UNREADABLE_EVENT = "unreadable event"
TOO_LATE = "impossibly late"
NO_NOTES = "no notes"
TOO_LONG = "longer than 10 minutes"
TOO_MANY_NOTES = "too many notes"
TOO_MANY_TRACKS = "too many tracks"


# ---------------------------------------------------------------------------------------------
# Raw byte builders: they write whatever they are told, malformed included.
# ---------------------------------------------------------------------------------------------
def vlq(value: int) -> bytes:
    """A MIDI variable-length number of any length (a valid file keeps it to 4 bytes)."""
    groups = [value & 0x7F]
    value >>= 7
    while value:
        groups.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(groups))


def header(fmt: int = 1, ntracks: int = 1, division: int = 480, length: int = 6) -> bytes:
    return b"MThd" + struct.pack(">IHHH", length, fmt, ntracks, division)


def chunk(tag: bytes, body: bytes, length: int | None = None) -> bytes:
    return tag + struct.pack(">I", len(body) if length is None else length) + body


def track(body: bytes, end: bool = True, length: int | None = None) -> bytes:
    """An MTrk chunk; ``end`` appends the end-of-track meta event."""
    if end:
        body += b"\x00\xff\x2f\x00"
    return chunk(b"MTrk", body, length)


def tempo(delta: int, microseconds: int = 500_000) -> bytes:
    return vlq(delta) + b"\xff\x51\x03" + microseconds.to_bytes(3, "big")


def notes_body(count: int, channel: int = 0, step: int = 480, pitch: int = 60) -> bytes:
    """``count`` notes one after another, each ``step`` ticks long."""
    body = bytearray()
    for i in range(count):
        p = pitch + (i % 12)
        body += b"\x00" + bytes([0x90 | channel, p, 80])
        body += vlq(step) + bytes([0x80 | channel, p, 0])
    return bytes(body)


def small_song(ntracks: int = 1, notes: int = 8) -> bytes:
    """A tiny valid type-1 file, the base for the damaged variants."""
    return header(1, ntracks) + b"".join(track(notes_body(notes)) for _ in range(ntracks))


def huge_file(size: int = 1_200_000) -> bytes:
    """A structurally fine file over 1 MB (text meta events of 100 kB each), for the size
    limit."""
    text = b"\x00\xff\x01" + vlq(100_000) + b"x" * 100_000
    body = text * (size // len(text) + 1) + notes_body(4)
    return header(1, 1) + track(body)


def million_notes_file() -> bytes:
    """A million note-ons with running status: 3 bytes each (delta, pitch, velocity), which is
    about 3 MB, so it cannot be committed under 1 MB; the test raises max_bytes to show that
    the scan refuses it by count."""
    body = b"\x00\x90\x3c\x40" + b"\x00\x3c\x40" * 999_999
    return header(0, 1) + track(body)


# ---------------------------------------------------------------------------------------------
# Not MIDI at all
# ---------------------------------------------------------------------------------------------
def png_bytes() -> bytes:
    def png_chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\x00\x00\xff" * 2)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", pixels)
            + png_chunk(b"IEND", b""))


def wav_bytes(rng: random.Random) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"".join(struct.pack("<h", rng.randint(-3000, 3000))
                                 for _ in range(400)))
    return buf.getvalue()


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        info = zipfile.ZipInfo("song.mid", date_time=(2026, 1, 1, 0, 0, 0))
        archive.writestr(info, small_song())
    return buf.getvalue()


def rmid_bytes() -> bytes:
    """A MIDI file wrapped in RIFF (.rmi): not a Standard MIDI File at the first byte."""
    inner = small_song()
    data = b"RMID" + b"data" + struct.pack("<I", len(inner)) + inner
    return b"RIFF" + struct.pack("<I", len(data)) + data


# ---------------------------------------------------------------------------------------------
# The hostile set
# ---------------------------------------------------------------------------------------------
def hostile_files() -> dict[str, tuple[bytes, str, str]]:
    """name -> (bytes, what it is, words the refusal must contain)."""
    rng = random.Random(SEED)
    song = small_song()
    files: dict[str, tuple[bytes, str, str]] = {}

    def add(name: str, data: bytes, what: str, expect: str) -> None:
        assert name not in files, name
        files[name] = (data, what, expect)

    # -- not MIDI ---------------------------------------------------------------------------
    add("zero_bytes.mid", b"", "an empty file", "empty")
    add("single_byte.mid", b"M", "one byte", NOT_MIDI)
    add("wrong_magic.mid", b"MTHD" + song[4:], "valid file with a wrong magic", NOT_MIDI)
    add("png_renamed.mid", png_bytes(), "a PNG image renamed .mid", NOT_MIDI)
    add("text_file.mid", b"Verse 1: C G Am F\nChorus: F G C\n" * 20, "a text file", NOT_MIDI)
    add("wav_header.mid", wav_bytes(rng), "a WAV file", NOT_MIDI)
    add("zip_archive.mid", zip_bytes(), "a ZIP holding a MIDI file", NOT_MIDI)
    add("riff_rmid.mid", rmid_bytes(), "a RIFF-wrapped MIDI (.rmi)", NOT_MIDI)
    add("random_noise.mid", bytes(rng.randrange(256) for _ in range(2048)), "random bytes",
        NOT_MIDI)

    # -- header -----------------------------------------------------------------------------
    add("truncated_header.mid", b"MThd\x00\x00\x00\x06\x00\x01", "header cut short", DAMAGED)
    add("header_length_2.mid", b"MThd" + struct.pack(">I", 2) + song[8:],
        "header length says 2", DAMAGED)
    add("header_length_4gb.mid", b"MThd" + struct.pack(">I", 0xFFFFFFFF) + song[8:],
        "header length says 4 GB", DAMAGED)
    add("header_only.mid", header(1, 1), "a header promising a track, nothing after it",
        "tracks are missing")
    add("no_tracks.mid", header(1, 0), "a header with zero tracks", "no tracks")
    add("zero_tracks_declared_but_present.mid", header(1, 0) + track(notes_body(4)),
        "header says 0 tracks, one follows", "no tracks")
    add("type_2.mid", header(2, 1) + track(notes_body(4)), "multi-song type 2", "type 2")
    add("format_7.mid", header(7, 1) + track(notes_body(4)), "unknown format 7", DAMAGED)
    add("zero_ticks_per_beat.mid", header(1, 1, division=0) + track(notes_body(4)),
        "division 0", "beat resolution is zero")
    add("smpte_division.mid", header(1, 1, division=0xE728) + track(notes_body(4)),
        "negative division: SMPTE 25 fps, 40 ticks per frame", "SMPTE")
    add("ntracks_5_but_1.mid", header(1, 5) + track(notes_body(4)),
        "header says 5 tracks, 1 present", "tracks are missing")
    add("tracks_1000.mid", header(1, 1000) + track(b"") * 1000, "1,000 empty tracks",
        TOO_MANY_TRACKS)
    add("tracks_65_with_notes.mid", header(1, 65) + track(notes_body(1)) * 65,
        "65 tracks, one note each (one over the limit)", TOO_MANY_TRACKS)
    add("tracks_65535_declared.mid", header(1, 65535) + track(notes_body(2)),
        "header claims 65,535 tracks", TOO_MANY_TRACKS)

    # -- chunks -----------------------------------------------------------------------------
    add("truncated_track.mid", song[: len(song) // 2], "file cut in the middle of a track",
        MID_TRACK)
    add("track_one_byte_short.mid", song[:-1], "the last byte is missing", MID_TRACK)
    add("track_claims_4gb.mid", header(1, 1) + track(notes_body(4), length=0xFFFFFFFF),
        "track chunk length 4 GB", MID_TRACK)
    add("track_header_cut.mid", header(1, 1) + b"MTrk\x00\x00", "track chunk header cut",
        MID_TRACK)
    add("not_a_track_chunk.mid", header(1, 1) + chunk(b"XFIH", notes_body(4)),
        "an unknown chunk where the track should be", "not a track")
    add("meta_claims_256mb.mid",
        header(1, 1) + track(b"\x00\xff\x01" + vlq(0x0FFFFFFF) + b"lyrics..." + notes_body(2)),
        "a text meta event claiming 256 MB (the largest 4-byte length)", MID_TRACK)
    add("meta_claims_1gb.mid",
        header(1, 1) + track(b"\x00\xff\x01" + vlq(1 << 30) + b"lyrics..." + notes_body(2)),
        "a text meta event claiming 1 GB (needs a 5-byte length)", UNREADABLE_VALUE)
    add("sysex_never_ends.mid",
        header(1, 1) + track(notes_body(2) + b"\x00\xf0" + vlq(5_000_000) + b"\x43\x10\x4c",
                             end=False),
        "a sysex whose length runs past the file", MID_TRACK)
    add("note_cut_by_chunk_end.mid", header(1, 1) + track(notes_body(2) + b"\x00\x90\x3c",
                                                            end=False),
        "a note-on missing its velocity at the end of the track", MID_TRACK)
    add("meta_without_type.mid", header(1, 1) + track(notes_body(2) + b"\x00\xff", end=False),
        "a meta event cut after its status byte", MID_TRACK)
    add("vlq_unterminated_at_end.mid",
        header(1, 1) + track(notes_body(2) + b"\x81\x82", end=False),
        "a time value still continuing when the track ends", MID_TRACK)

    # -- variable-length numbers and ticks ---------------------------------------------------
    add("vlq_five_bytes.mid", header(1, 1) + track(b"\x81\x80\x80\x80\x00\x90\x3c\x40"
                                                   + notes_body(2)),
        "a delta time of 5 bytes", UNREADABLE_VALUE)
    add("tick_1e12_bad_vlq.mid", header(1, 1) + track(notes_body(2) + vlq(10**12)
                                                      + b"\x90\x3c\x40"),
        "a delta of 1e12 ticks from a 6-byte number", UNREADABLE_VALUE)
    add("meta_length_five_bytes.mid",
        header(1, 1) + track(notes_body(2) + b"\x00\xff\x01\x81\x80\x80\x80\x00"),
        "a meta length of 5 bytes", UNREADABLE_VALUE)
    add("tick_far_future.mid", header(1, 1) + track(notes_body(2) + vlq(0x0FFFFFFF)
                                                    + b"\x90\x3c\x40" + b"\x00\x80\x3c\x00"),
        "one note 268 million ticks in", TOO_LATE)
    add("tick_sum_overflow.mid",
        header(1, 1) + track(notes_body(2) + (vlq(0x0FFFFF) + b"\xff\x01\x00") * 300),
        "300 deltas of a million ticks each, adding up past the limit", TOO_LATE)

    # -- events -----------------------------------------------------------------------------
    add("running_status_without_status.mid", header(1, 1) + track(b"\x00\x3c\x40"
                                                                  + notes_body(2)),
        "data bytes before any status byte", UNREADABLE_EVENT)
    add("running_status_after_sysex.mid",
        header(1, 1) + track(b"\x00\xf0\x02\x7e\xf7" + b"\x00\x3c\x40" + notes_body(2)),
        "running status right after a sysex", UNREADABLE_EVENT)
    add("data_byte_high.mid", header(1, 1) + track(b"\x00\x90\x3c\xc0" + notes_body(2)),
        "a note-on whose velocity byte is 0xC0", UNREADABLE_EVENT)
    add("realtime_clock_in_track.mid", header(1, 1) + track(notes_body(2) + b"\x00\xf8"),
        "a MIDI clock byte inside a track", UNREADABLE_EVENT)
    add("song_position_in_track.mid", header(1, 1) + track(b"\x00\xf2\x00\x00"
                                                           + notes_body(2)),
        "a song-position message inside a track", UNREADABLE_EVENT)

    add("sysex_high_data_byte.mid", header(1, 1) + track(b"\x00\xf0\x03\x7e\x90\xf7"
                                                         + notes_body(4)),
        "a sysex carrying a status byte inside its data", UNREADABLE_EVENT)

    # -- meta contents ----------------------------------------------------------------------
    add("tempo_zero.mid", header(1, 1) + track(tempo(0, 0) + notes_body(4)),
        "a tempo of 0 microseconds per beat", "invalid tempo")
    add("tempo_wrong_length.mid", header(1, 1) + track(b"\x00\xff\x51\x02\x07\xa1"
                                                       + notes_body(4)),
        "a tempo event with 2 bytes", "invalid tempo")
    add("time_signature_zero_numerator.mid",
        header(1, 1) + track(b"\x00\xff\x58\x04\x00\x02\x18\x08" + notes_body(4)),
        "a 0/4 time signature", "invalid time signature")
    add("time_signature_huge_denominator.mid",
        header(1, 1) + track(b"\x00\xff\x58\x04\x03\xc8\x18\x08" + notes_body(4)),
        "a 3/2**200 time signature", "invalid time signature")
    add("time_signature_short.mid", header(1, 1) + track(b"\x00\xff\x58\x02\x03\x02"
                                                         + notes_body(4)),
        "a time signature with 2 bytes", "invalid time signature")
    add("key_signature_20_sharps.mid",
        header(1, 1) + track(b"\x00\xff\x59\x02\x14\x00" + notes_body(4)),
        "a key signature with 20 sharps", "invalid key signature")
    add("key_signature_bad_mode.mid",
        header(1, 1) + track(b"\x00\xff\x59\x02\x02\x05" + notes_body(4)),
        "a key signature with mode 5", "invalid key signature")

    # Malformed meta events the scan does not inspect: mido itself fails on them, in the
    # child process, and the caller hears the generic "damaged" sentence.
    add("sequence_number_one_byte.mid", header(1, 1) + track(b"\x00\xff\x00\x01\x05"
                                                             + notes_body(4)),
        "a sequence-number meta event of 1 byte (mido: IndexError)", "could not be read")
    add("smpte_offset_bad_rate.mid",
        header(1, 1) + track(b"\x00\xff\x54\x05\xe1\x00\x00\x00\x00" + notes_body(4)),
        "an SMPTE offset with frame-rate code 7 (mido: KeyError)", "could not be read")
    add("channel_prefix_empty.mid", header(1, 1) + track(b"\x00\xff\x20\x00"
                                                         + notes_body(4)),
        "a channel-prefix meta event with no data (mido: IndexError)", "could not be read")

    # -- too much ---------------------------------------------------------------------------
    bomb = b"\x00\x90\x3c\x40" + b"\x00\x3c\x40" * 330_000
    add("note_bomb_running_status.mid", header(0, 1) + track(bomb),
        "330,001 note-ons with running status, just under 1 MB", TOO_MANY_NOTES)
    add("notes_20001.mid", header(0, 1) + track(notes_body(20_001, step=1)),
        "20,001 short notes: one over the limit", TOO_MANY_NOTES)
    add("notes_spread_over_40_tracks.mid",
        header(1, 40) + track(notes_body(600, step=10)) * 40,
        "600 notes in each of 40 tracks: 24,000", TOO_MANY_NOTES)
    add("tempo_changes_10000.mid",
        header(1, 1) + track(b"".join(tempo(1, 400_000 + (i % 50) * 1000)
                                      for i in range(10_000)) + notes_body(4)),
        "10,000 tempo changes", "too many tempo changes")
    add("controller_flood.mid",
        header(0, 1) + track(notes_body(1) + b"\x00\xb0\x07\x40" + b"\x00\x07\x41" * 300_000),
        "300,000 volume controller events", "too many MIDI events")
    add("pitch_bend_flood.mid",
        header(0, 1) + track(notes_body(1) + b"\x00\xe0\x00\x40"
                             + b"".join(b"\x01" + bytes([i % 128, 64])
                                        for i in range(250_000))),
        "250,000 pitch bends", "too many MIDI events")

    add("program_change_per_note.mid", header(0, 1) + track(b"".join(
        bytes([0x00, 0xC0 | (i % 16), i, 0x00, 0x90 | (i % 16), 60, 80, 0x10, 0x80 | (i % 16),
               60, 0]) for i in range(100))),
        "one track, 100 notes each with its own instrument: 100 parts", TOO_MANY_TRACKS)

    # -- nothing to play --------------------------------------------------------------------
    add("empty_tracks_only.mid", header(1, 3) + track(b"") * 3,
        "3 tracks holding only end-of-track", NO_NOTES)
    add("zero_length_track_chunks.mid", header(1, 2) + track(b"", end=False) * 2,
        "2 track chunks of length 0", NO_NOTES)
    add("only_note_offs.mid", header(1, 1) + track(b"".join(
        b"\x10" + bytes([0x80, 60 + i, 0]) for i in range(12))), "12 note-offs, no note-ons",
        NO_NOTES)
    add("velocity_zero_note_ons_only.mid", header(1, 1) + track(b"".join(
        b"\x10" + bytes([0x90, 60 + i, 0]) for i in range(12))),
        "note-ons of velocity 0 only (which mean note-off)", NO_NOTES)
    add("zero_length_notes_only.mid", header(1, 1) + track(b"".join(
        b"\x00" + bytes([0x90, 60 + i, 90]) + b"\x00" + bytes([0x80, 60 + i, 0])
        for i in range(12))), "12 notes that end where they start", NO_NOTES)
    add("unterminated_notes_only.mid", header(1, 1) + track(b"".join(
        b"\x60" + bytes([0x90, 60 + i, 90]) for i in range(6))),
        "note-ons that never end", NO_NOTES)
    add("controllers_and_programs_only.mid", header(1, 1) + track(
        b"\x00\xc0\x05\x00\xb0\x07\x64\x00\xb0\x0a\x40\x60\xe0\x00\x40"),
        "program change, controllers and a pitch bend, no notes", NO_NOTES)

    # -- too long ---------------------------------------------------------------------------
    eleven_minutes = 11 * 60 * 2 * 480  # ticks at 120 bpm, 480 per beat
    add("over_10_minutes.mid", header(1, 1) + track(notes_body(4) + vlq(eleven_minutes)
                                                    + b"\x90\x40\x50\x83\x60\x80\x40\x00"),
        "a last note 11 minutes in", TOO_LONG)
    add("long_note_over_10_minutes.mid",
        header(1, 1) + track(b"\x00\x90\x3c\x50" + vlq(eleven_minutes) + b"\x80\x3c\x00"),
        "one note held for 11 minutes", TOO_LONG)
    add("slow_tempo_over_10_minutes.mid",
        header(1, 1) + track(tempo(0, 0xFFFFFF) + notes_body(40)),
        "40 quarter notes at 3.6 beats per minute: 11 minutes", TOO_LONG)
    return files


# ---------------------------------------------------------------------------------------------
# The valid set, written with mido
# ---------------------------------------------------------------------------------------------
def _mido_file(tracks, ticks_per_beat: int = 480, fmt: int = 1) -> bytes:
    import mido

    midi = mido.MidiFile(type=fmt, ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track_ = mido.MidiTrack()
        now = 0
        for tick, msg in sorted(events, key=lambda e: (e[0], e[1].type != "note_off")):
            track_.append(msg.copy(time=tick - now))
            now = tick
        midi.tracks.append(track_)
    buf = io.BytesIO()
    midi.save(file=buf)
    return buf.getvalue()


def _melody(pitches, beats_each: float, channel: int = 0, start_beat: float = 0.0,
            tpb: int = 480, velocity: int = 80):
    import mido

    events, beat = [], start_beat
    for pitch in pitches:
        on, off = round(beat * tpb), round((beat + beats_each) * tpb)
        events.append((on, mido.Message("note_on", channel=channel, note=pitch,
                                        velocity=velocity)))
        events.append((off, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        beat += beats_each
    return events


def _conductor(bpm: float, num: int, den: int, key: str | None = None, extra=()):
    import mido

    events = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))),
              (0, mido.MetaMessage("time_signature", numerator=num, denominator=den))]
    if key:
        events.append((0, mido.MetaMessage("key_signature", key=key)))
    return events + list(extra)


def valid_files() -> dict[str, tuple[bytes, dict]]:
    """name -> (bytes, expectations derived from the construction)."""
    import mido

    files: dict[str, tuple[bytes, dict]] = {}
    rng = random.Random(SEED + 1)

    # A waltz in D major: 16 bars of 3/4, melody in quarter notes, bass on each downbeat.
    d_major = [62, 64, 66, 67, 69, 71, 73, 74]
    melody = [rng.choice(d_major) + 12 for _ in range(16 * 3)]
    bass = [50 if bar % 2 == 0 else 45 for bar in range(16)]
    waltz = _mido_file([
        _conductor(168, 3, 4, key="D"),
        _melody(melody, 1.0),
        _melody(bass, 3.0, channel=1),
    ])
    files["waltz_3_4.mid"] = (waltz, {"meter": "3/4", "bars": 16, "notes": 48 + 16,
                                      "tracks": 2, "drum_tracks": 0, "drums_only": False,
                                      "key": "D major", "tempo_bpm": 168.0,
                                      "seconds": round(48 * 60 / 168, 2)})

    # A jig in 6/8: 8 bars of six eighth notes, no key signature (the key is estimated).
    g_major = [67, 69, 71, 72, 74, 76, 78, 79]
    jig = _mido_file([
        _conductor(120, 6, 8),
        _melody([rng.choice(g_major) for _ in range(8 * 6)], 0.5),
    ])
    files["jig_6_8.mid"] = (jig, {"meter": "6/8", "bars": 8, "notes": 48, "tracks": 1,
                                  "drum_tracks": 0, "drums_only": False, "tempo_bpm": 120.0,
                                  "seconds": 12.0})

    # Piano and drums, two tracks (plus the conductor): 4 bars of 4/4.
    piano = _melody([60, 64, 67, 72] * 4, 1.0)
    drums = (_melody([36, 42, 38, 42] * 4, 1.0, channel=9)
             + _melody([49], 0.5, channel=9))
    files["drums_piano.mid"] = (_mido_file([_conductor(100, 4, 4), piano, drums]),
                                {"meter": "4/4", "bars": 4, "notes": 16 + 17, "tracks": 2,
                                 "drum_tracks": 1, "drums_only": False, "tempo_bpm": 100.0,
                                 "seconds": 9.6})

    # Type 0: everything in one track, piano on channel 0 and a bass on channel 1.
    type0 = _mido_file([_conductor(90, 4, 4) + [(0, mido.Message("program_change", channel=1,
                                                                 program=33))]
                        + _melody([72, 74, 76, 77, 79, 77, 76, 74], 1.0)
                        + _melody([48, 43], 4.0, channel=1)], fmt=0)
    files["type_0.mid"] = (type0, {"meter": "4/4", "bars": 2, "notes": 10, "tracks": 2,
                                   "drum_tracks": 0, "drums_only": False, "tempo_bpm": 90.0,
                                   "seconds": round(8 * 60 / 90, 2)})

    # A tempo change: 4 bars at 120, then 4 bars at 60.
    slower = [(4 * 4 * 480, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60)))]
    files["tempo_change.mid"] = (
        _mido_file([_conductor(120, 4, 4, extra=slower), _melody([60, 62, 64, 65] * 8, 1.0)]),
        {"meter": "4/4", "bars": 8, "notes": 32, "tracks": 1, "drum_tracks": 0,
         "drums_only": False, "tempo_bpm": 120.0, "seconds": 8.0 + 16.0})

    # Drums only: valid, and the summary says so.
    files["drums_only.mid"] = (
        _mido_file([_conductor(110, 4, 4), _melody([36, 38] * 8, 0.5, channel=9)]),
        {"meter": "4/4", "bars": 2, "notes": 16, "tracks": 1, "drum_tracks": 1,
         "drums_only": True, "key": None, "tempo_bpm": 110.0,
         "seconds": round(8 * 60 / 110, 2)})

    # Harmless junk after the last declared track (real files carry padding): accepted.
    files["trailing_junk.mid"] = (jig + b"\x00" * 64 + b"saved by an old sequencer",
                                  dict(files["jig_6_8.mid"][1]))

    # A header longer than 6 bytes: the standard says readers skip the extra bytes.
    body = jig[14:]
    files["long_header.mid"] = (b"MThd" + struct.pack(">I", 8) + jig[8:14] + b"\x00\x00"
                                + body, dict(files["jig_6_8.mid"][1]))
    return files


def write_all() -> tuple[int, int]:
    """Rewrite both folders from scratch; returns (hostile count, valid count)."""
    for folder in (HOSTILE_DIR, VALID_DIR):
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.mid"):
            old.unlink()
    manifest = {}
    for name, (data, what, expect) in sorted(hostile_files().items()):
        assert len(data) < 1_000_000, (name, len(data))
        (HOSTILE_DIR / name).write_bytes(data)
        manifest[name] = {"what": what, "message_contains": expect, "bytes": len(data)}
    (HOSTILE_DIR / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    expected = {}
    for name, (data, facts) in sorted(valid_files().items()):
        (VALID_DIR / name).write_bytes(data)
        expected[name] = facts
    (VALID_DIR / "EXPECTED.json").write_text(json.dumps(expected, indent=1) + "\n")
    return len(manifest), len(expected)


if __name__ == "__main__":
    hostile, valid = write_all()
    print(f"wrote {hostile} hostile files to {HOSTILE_DIR.relative_to(ROOT)} and "
          f"{valid} valid files to {VALID_DIR.relative_to(ROOT)}", file=sys.stderr)
