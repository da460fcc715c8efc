"""Safe validation of uploaded MIDI files: one entry point, one error type.

Every upload path calls ``validate_midi(data)``. It returns a ``ValidatedMidi`` (the parsed
``Piece`` and a summary) or raises ``MidiValidationError`` whose message is one plain sentence
a musician understands. For any bytes at all it promises:

- no other exception escapes (a library failure becomes "This MIDI file is damaged ...");
  the one exception is OSError when the machine cannot start a process at all, which is an
  operations problem, not the file's;
- the caller never waits much longer than ``MidiLimits.parse_timeout_s`` for the parse;
- no library parse gets more than ``MidiLimits.parse_memory_mb`` of address space.

It works in two stages:

1. ``scan_midi`` walks the raw bytes in pure Python with a bounds check on every read: the
   header, every track chunk, every variable-length number (at most 4 bytes), running status,
   meta and sysex lengths. It counts tracks, notes, tempo changes and events, finds the
   largest tick and estimates the length in seconds, and refuses what is over the limits
   before any MIDI library allocates anything. Its work is bounded by the file size and the
   event limit.
2. Only a file that passes the scan is parsed with mido + pretty_midi, in a separate Python
   process (``python -m generation.music.validate --read-child``). The child caps its own
   address space and CPU time with ``setrlimit`` before reading anything, and the caller
   kills it after ``parse_timeout_s`` of wall time. The Piece comes back as JSON.

After the parse the notes themselves are checked: no notes (zero-length or never-ended notes
do not count), longer than ``max_seconds``, or more instrument parts than ``max_tracks`` is
refused. Drum tracks and multi-track files are accepted; drums only is valid and says so.

Decisions: SMPTE (frame-based) timing is refused rather than converted (pretty_midi cannot
read it); bytes after the last declared track are ignored; a sysex cancels running status
(stricter than mido), a meta event does not (as mido reads it). The call blocks for about
0.3 s when the file reaches the parse: call it from a thread in async code.

Free of Django; ``python -m generation.music.validate FILE`` prints the summary as JSON.
"""

from __future__ import annotations

import json
import math
import os
import signal
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from generation.music.notes import DEFAULT_TEMPO_BPM, Note, Part, Piece

DEFAULT_MAX_BYTES = 1_000_000


class MidiValidationError(ValueError):
    """An upload was refused. ``str(error)`` is one sentence to show the musician."""


@dataclass(frozen=True)
class MidiLimits:
    """What an upload may contain. The defaults are the product's limits."""

    max_tracks: int = 64  # MIDI track chunks in the header, and instrument parts after the parse
    max_notes: int = 20_000  # sounding note-ons (velocity > 0), all tracks together
    max_seconds: float = 600.0  # from the first beat to the end of the last note
    max_tempo_changes: int = 1_000  # set_tempo events, all tracks together
    # Largest absolute tick in any track. pretty_midi refuses above 1e7 itself and allocates
    # an array of 8 bytes per tick, so this also bounds that allocation (80 MB).
    max_ticks: int = 10_000_000
    # Every event (notes, controllers, meta, sysex). Each becomes a Python object in mido
    # and again in pretty_midi, so this is what bounds the parse's memory and time: 100,000
    # controller events parse in about 1.4 s of CPU and 100 MB (a song of 20,000 notes has
    # about 40,000 events).
    max_events: int = 100_000
    parse_timeout_s: float = 5.0  # wall time the caller waits for the child's parse
    parse_memory_mb: int = 512  # address-space limit of the child that parses


@dataclass(frozen=True)
class MidiScan:
    """What the structural scan found in the raw bytes (before any parse)."""

    format: int
    declared_tracks: int
    ticks_per_beat: int
    notes: int  # note-ons with velocity > 0
    tempo_changes: int
    events: int
    max_tick: int
    estimated_seconds: float  # to the last note event, with track 0's tempo map
    trailing_bytes: int  # ignored bytes after the last declared track


@dataclass
class ValidatedMidi:
    """An upload that passed: the Piece (only parts that have notes) and what it contains."""

    piece: Piece
    scan: MidiScan
    info: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """bars, meter ("3/4"), key, key_estimated, tempo_bpm, tracks (parts with notes),
        notes, seconds, drum_tracks, drums_only. JSON-serialisable."""
        return dict(self.info)

    def to_dict(self) -> dict:
        return self.summary()


# ---------------------------------------------------------------------------------------------
# Messages: one sentence each, in the musician's words.
# ---------------------------------------------------------------------------------------------
EMPTY_FILE = "This file is empty."
NOT_MIDI = "This is not a MIDI file."
TYPE_2 = "Multi-song (type 2) MIDI files are not supported."
SMPTE_TIMING = ("This file counts time in video frames (SMPTE) instead of beats, "
                "which is not supported.")
NO_TRACKS = "This file has no tracks."
NO_NOTES = "This file has no notes."
TIMEOUT = "This file could not be read in time."
TOO_MUCH_MEMORY = "This file needs too much memory to read."
BAD_HEADER = "This MIDI file is damaged: its header is incomplete or invalid."
BAD_DIVISION = "This MIDI file is damaged: its beat resolution is zero."
MISSING_TRACKS = "This MIDI file is damaged: some of its tracks are missing."
NOT_A_TRACK = "This MIDI file is damaged: it contains a block that is not a track."
ENDS_MID_TRACK = "This MIDI file is damaged: it ends in the middle of a track."
BAD_NUMBER = "This MIDI file is damaged: it contains an unreadable time or length value."
BAD_EVENT = "This MIDI file is damaged: it contains an unreadable event."
TOO_LATE = "This MIDI file is damaged: an event is timed impossibly late."
BAD_TEMPO = "This MIDI file is damaged: it has an invalid tempo."
BAD_METER = "This MIDI file is damaged: it has an invalid time signature."
BAD_KEY = "This MIDI file is damaged: it has an invalid key signature."
UNREADABLE = "This MIDI file is damaged and could not be read."


def _size_text(n_bytes: int) -> str:
    if n_bytes >= 1_000_000:
        return f"{n_bytes / 1_000_000:g} MB"
    return f"{n_bytes / 1000:g} KB"


def _length_text(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute" + ("s" if minutes != 1 else "")
    return f"{seconds:g} seconds"


def too_large(max_bytes: int) -> str:
    return f"This file is larger than {_size_text(max_bytes)}."


def too_long(limits: MidiLimits) -> str:
    return f"This file is longer than {_length_text(limits.max_seconds)}."


def too_many_tracks(limits: MidiLimits) -> str:
    return f"This file has too many tracks (max {limits.max_tracks:,})."


def too_many_notes(limits: MidiLimits) -> str:
    return f"This file has too many notes (max {limits.max_notes:,})."


def too_many_tempo_changes(limits: MidiLimits) -> str:
    return f"This file has too many tempo changes (max {limits.max_tempo_changes:,})."


def too_many_events(limits: MidiLimits) -> str:
    return f"This file has too many MIDI events (max {limits.max_events:,})."


# ---------------------------------------------------------------------------------------------
# Stage 1: the structural scan
# ---------------------------------------------------------------------------------------------
_CHANNEL_DATA_BYTES = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


def _read_vlq(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A variable-length number at ``pos`` (at most 4 bytes, as the standard says) and the
    position after it."""
    value = 0
    for count in range(4):
        if pos >= end:
            raise MidiValidationError(ENDS_MID_TRACK)
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
        if count == 3:
            break
    raise MidiValidationError(BAD_NUMBER)


class _Counts:
    """Running totals across tracks, refusing as soon as one passes its limit."""

    def __init__(self, limits: MidiLimits) -> None:
        self.limits = limits
        self.notes = 0
        self.tempo_changes = 0
        self.events = 0
        self.max_tick = 0
        self.last_note_tick = -1  # tick of the last note-on/off, any track
        self.tempo_map: list[tuple[int, int]] = []  # (tick, microseconds per beat), track 0


def _scan_track(data: bytes, start: int, end: int, track_index: int, counts: _Counts) -> None:
    limits = counts.limits
    pos, tick, running = start, 0, None
    while pos < end:
        delta, pos = _read_vlq(data, pos, end)
        tick += delta
        if tick > limits.max_ticks:
            raise MidiValidationError(TOO_LATE)
        if pos >= end:
            raise MidiValidationError(ENDS_MID_TRACK)
        counts.events += 1
        if counts.events > limits.max_events:
            raise MidiValidationError(too_many_events(limits))

        status = data[pos]
        if status < 0x80:
            # running status: this is the first data byte of a repeat of the last status
            if running is None:
                raise MidiValidationError(BAD_EVENT)
            status = running
        else:
            pos += 1

        if status == 0xFF:
            if pos >= end:
                raise MidiValidationError(ENDS_MID_TRACK)
            meta_type = data[pos]
            length, pos = _read_vlq(data, pos + 1, end)
            if pos + length > end:
                raise MidiValidationError(ENDS_MID_TRACK)
            _check_meta(meta_type, data[pos:pos + length] if length <= 8 else b"", length,
                        tick, track_index, counts)
            pos += length
            # meta events leave running status alone, as mido reads them
        elif status in (0xF0, 0xF7):
            length, pos = _read_vlq(data, pos, end)
            if pos + length > end:
                raise MidiValidationError(ENDS_MID_TRACK)
            # inside a sysex only the framing bytes F0 (first) and F7 (last) may be >= 0x80
            body = data[pos:pos + length]
            body = body[1:] if body[:1] == b"\xf0" else body
            body = body[:-1] if body[-1:] == b"\xf7" else body
            if body and max(body) >= 0x80:
                raise MidiValidationError(BAD_EVENT)
            pos += length
            running = None  # a sysex cancels running status
        elif status >= 0xF0:
            # system common / real-time bytes have no place in a file
            raise MidiValidationError(BAD_EVENT)
        else:
            kind = status & 0xF0
            n_data = _CHANNEL_DATA_BYTES[kind]
            if pos + n_data > end:
                raise MidiValidationError(ENDS_MID_TRACK)
            if data[pos] >= 0x80 or (n_data == 2 and data[pos + 1] >= 0x80):
                raise MidiValidationError(BAD_EVENT)
            if kind == 0x90 and data[pos + 1] > 0:
                counts.notes += 1
                if counts.notes > limits.max_notes:
                    raise MidiValidationError(too_many_notes(limits))
            if kind in (0x80, 0x90):
                counts.last_note_tick = max(counts.last_note_tick, tick)
            pos += n_data
            running = status
    counts.max_tick = max(counts.max_tick, tick)


def _check_meta(meta_type: int, payload: bytes, length: int, tick: int, track_index: int,
                counts: _Counts) -> None:
    """Meta events whose contents the parser trusts must be well formed here."""
    if meta_type == 0x51:  # set_tempo: 3 bytes of microseconds per beat
        if length != 3:
            raise MidiValidationError(BAD_TEMPO)
        microseconds = int.from_bytes(payload, "big")
        if microseconds == 0:
            raise MidiValidationError(BAD_TEMPO)
        counts.tempo_changes += 1
        if counts.tempo_changes > counts.limits.max_tempo_changes:
            raise MidiValidationError(too_many_tempo_changes(counts.limits))
        if track_index == 0:  # pretty_midi reads the tempo map from the first track only
            counts.tempo_map.append((tick, microseconds))
    elif meta_type == 0x58:  # time_signature: numerator, log2(denominator), clocks, 32nds
        if length != 4 or payload[0] == 0 or payload[1] > 6:
            raise MidiValidationError(BAD_METER)
    elif meta_type == 0x59:  # key_signature: sharps (-7..7, signed), minor flag
        if length != 2:
            raise MidiValidationError(BAD_KEY)
        sharps = payload[0] - 256 if payload[0] > 127 else payload[0]
        if not -7 <= sharps <= 7 or payload[1] > 1:
            raise MidiValidationError(BAD_KEY)


def _seconds_at(tick: int, tempo_map: list[tuple[int, int]], ticks_per_beat: int) -> float:
    """Seconds from tick 0 to ``tick``, with tempo changes at (tick, microseconds per beat)."""
    seconds, last_tick = 0.0, 0
    microseconds = round(60_000_000 / DEFAULT_TEMPO_BPM)
    for change_tick, change_us in sorted(tempo_map):
        if change_tick >= tick:
            break
        seconds += (change_tick - last_tick) * microseconds / 1e6 / ticks_per_beat
        last_tick, microseconds = change_tick, change_us
    return seconds + (tick - last_tick) * microseconds / 1e6 / ticks_per_beat


def scan_midi(data: bytes, limits: MidiLimits | None = None) -> MidiScan:
    """Walk the raw bytes of a Standard MIDI File and refuse anything malformed or over the
    limits, without allocating more than a few small counters.

    Accepts formats 0 and 1 with beats-based timing; bytes after the last declared track are
    ignored (real files often carry padding). Raises MidiValidationError; never anything else.
    """
    limits = limits or MidiLimits()
    data = bytes(data)
    size = len(data)
    if size == 0:
        raise MidiValidationError(EMPTY_FILE)
    if size < 4 or data[:4] != b"MThd":
        raise MidiValidationError(NOT_MIDI)
    if size < 14:
        raise MidiValidationError(BAD_HEADER)
    header_length = int.from_bytes(data[4:8], "big")
    if header_length < 6 or 8 + header_length > size:
        raise MidiValidationError(BAD_HEADER)
    fmt, declared_tracks, division = struct.unpack(">HHH", data[8:14])
    if fmt == 2:
        raise MidiValidationError(TYPE_2)
    if fmt > 2:
        raise MidiValidationError(BAD_HEADER)
    if division & 0x8000:
        raise MidiValidationError(SMPTE_TIMING)
    if division == 0:
        raise MidiValidationError(BAD_DIVISION)
    if declared_tracks == 0:
        raise MidiValidationError(NO_TRACKS)
    if declared_tracks > limits.max_tracks:
        raise MidiValidationError(too_many_tracks(limits))

    counts = _Counts(limits)
    pos = 8 + header_length
    for track_index in range(declared_tracks):
        if pos >= size:
            raise MidiValidationError(MISSING_TRACKS)
        if pos + 8 > size:
            raise MidiValidationError(ENDS_MID_TRACK)
        if data[pos:pos + 4] != b"MTrk":
            raise MidiValidationError(NOT_A_TRACK)
        length = int.from_bytes(data[pos + 4:pos + 8], "big")
        start, end = pos + 8, pos + 8 + length
        if end > size:
            raise MidiValidationError(ENDS_MID_TRACK)
        _scan_track(data, start, end, track_index, counts)
        pos = end

    if counts.notes == 0:
        raise MidiValidationError(NO_NOTES)
    seconds = _seconds_at(max(counts.last_note_tick, 0), counts.tempo_map, division)
    if seconds > limits.max_seconds:
        raise MidiValidationError(too_long(limits))
    return MidiScan(format=fmt, declared_tracks=declared_tracks, ticks_per_beat=division,
                    notes=counts.notes, tempo_changes=counts.tempo_changes,
                    events=counts.events, max_tick=counts.max_tick,
                    estimated_seconds=seconds, trailing_bytes=size - pos)


# ---------------------------------------------------------------------------------------------
# Stage 2: the parse, in a child process with limits
# ---------------------------------------------------------------------------------------------
# Why a fresh interpreter per parse rather than multiprocessing: a spawn/forkserver child
# re-imports the caller's main script (an unguarded script then recurses, and a web server's
# script costs its own import time per child), needs picklable state, and cannot start from a
# daemonic process. ``python -m generation.music.validate --read-child`` needs none of that;
# it costs about 0.3 s (interpreter + numpy + pretty_midi), which an upload can afford.
_MODULE = "generation.music.validate"
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
_CHILD_FLAG = "--read-child"


def _limit_own_resources(memory_mb: int, cpu_s: int) -> None:
    import resource

    memory = int(memory_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would otherwise dump core


def _parse_piece(data: bytes) -> Piece:
    """mido + pretty_midi, exactly as ``notes.piece_from_midi`` reads trusted files."""
    import warnings

    import mido
    import pretty_midi

    from generation.music.notes import open_midi, piece_from_pretty_midi

    midi = open_midi(data)
    for track in midi.tracks:
        if not track:  # pretty_midi cannot take an empty track (max() of nothing)
            track.append(mido.MetaMessage("end_of_track", time=0))
    with warnings.catch_warnings():
        # "tempo events on non-zero tracks" and the like: nothing for the musician to act on
        warnings.simplefilter("ignore")
        return piece_from_pretty_midi(pretty_midi.PrettyMIDI(mido_object=midi))


def _piece_to_json(piece: Piece) -> dict:
    return {
        "parts": [{"program": p.program, "is_drum": p.is_drum, "name": p.name[:120],
                   "notes": [[n.onset, n.pitch, n.duration, n.velocity] for n in p.notes]}
                  for p in piece.parts if p.notes],
        "tempos": [list(t) for t in piece.tempos],
        "time_signatures": [list(t) for t in piece.time_signatures],
        "key": piece.key,
    }


def _piece_from_json(obj: dict) -> Piece:
    parts = [Part(notes=[Note(float(o), int(p), float(d), int(v)) for o, p, d, v in part["notes"]],
                  program=int(part["program"]), is_drum=bool(part["is_drum"]),
                  name=str(part["name"]))
             for part in obj["parts"]]
    return Piece(parts=parts,
                 tempos=[(float(b), float(bpm)) for b, bpm in obj["tempos"]],
                 time_signatures=[(float(b), int(n), int(d)) for b, n, d in
                                  obj["time_signatures"]],
                 key=obj["key"])


def _read_child_main(args: list[str]) -> int:
    """The child: limit itself first, read MIDI bytes from stdin, write one JSON line to
    stdout: {"piece": ...} or {"error": "memory" | "damaged"}."""
    memory_mb, cpu_s = int(args[0]), int(args[1])
    # Libraries may print on import (pyfluidsynth announces where it found libfluidsynth when
    # CI=true): only our one JSON line may reach the parent through stdout.
    result_out, sys.stdout = sys.stdout, sys.stderr
    try:
        _limit_own_resources(memory_mb, cpu_s)
        data = sys.stdin.buffer.read(64 * 1024 * 1024)
        message = {"piece": _piece_to_json(_parse_piece(data))}
    except MemoryError:
        message = {"error": "memory"}
    except Exception:  # any library failure on hostile bytes means: damaged
        message = {"error": "damaged"}
    try:
        result_out.write(json.dumps(message))
    except MemoryError:
        result_out.write('{"error": "memory"}')
    result_out.flush()
    return 0


# The only variables the parse child inherits (PYTHONPATH is set from the repository).
CHILD_ENV = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "VIRTUAL_ENV")


def parse_in_child(data: bytes, limits: MidiLimits | None = None) -> Piece:
    """Parse MIDI bytes with mido + pretty_midi in a separate, limited Python process.

    The child caps its address space at ``parse_memory_mb`` and its CPU time at about
    ``parse_timeout_s`` before it reads anything; the caller kills it after
    ``parse_timeout_s`` of wall time. Raises MidiValidationError when the child cannot parse
    the file, runs out of memory or time. Call ``scan_midi`` first: this protects the caller,
    but only the scan refuses a bomb before work is spent on it.
    """
    limits = limits or MidiLimits()
    cpu_s = max(1, math.ceil(limits.parse_timeout_s)) + 1
    # a minimal environment: the child needs to find Python and our package, nothing else
    # (no secret key, database URL or cloud credentials of the parent)
    env = {k: os.environ[k] for k in CHILD_ENV if k in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (_REPO_ROOT, os.environ.get("PYTHONPATH")) if p)
    env["OPENBLAS_NUM_THREADS"] = "1"  # numpy's thread pool would only cost address space
    env["PYTHONWARNINGS"] = "ignore"
    command = [sys.executable, "-m", _MODULE, _CHILD_FLAG, str(int(limits.parse_memory_mb)),
               str(cpu_s)]
    try:
        done = subprocess.run(command, input=bytes(data), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, env=env,
                              timeout=limits.parse_timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise MidiValidationError(TIMEOUT) from None  # run() has killed and reaped the child
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise MidiValidationError(TIMEOUT)
    try:
        message = json.loads(done.stdout)
    except ValueError:
        # died without a word: the interpreter itself could not get memory, or crashed
        raise MidiValidationError(TOO_MUCH_MEMORY if done.returncode else UNREADABLE) from None
    if isinstance(message, dict) and "piece" in message:
        return _piece_from_json(message["piece"])
    if isinstance(message, dict) and message.get("error") == "memory":
        raise MidiValidationError(TOO_MUCH_MEMORY)
    raise MidiValidationError(UNREADABLE)


# ---------------------------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------------------------
def _display_key(key: str) -> str:
    """"B- major" (music21 spelling) or "Bb Major" (pretty_midi) -> "Bb major"."""
    tonic, _, mode = key.partition(" ")
    return f"{tonic[:1].upper()}{tonic[1:].replace('-', 'b')} {mode.lower()}".strip()


def summarize(piece: Piece) -> dict:
    """The upload summary the product shows; see ``ValidatedMidi.summary``."""
    pitched = [p for p in piece.parts if not p.is_drum and p.notes]
    drums = [p for p in piece.parts if p.is_drum and p.notes]
    key, estimated = piece.key, False
    if pitched and not key:
        from generation.music.key import estimate_key

        key, estimated = estimate_key(piece), True
    num, den = piece.time_signature
    return {
        "bars": piece.bars,
        "meter": f"{num}/{den}",
        "key": _display_key(key) if key else None,
        "key_estimated": estimated,
        "tempo_bpm": round(piece.tempo_bpm, 1),
        "tracks": len(pitched) + len(drums),
        "notes": piece.note_count,
        "seconds": round(piece.duration_seconds, 2),
        "drum_tracks": len(drums),
        "drums_only": bool(drums) and not pitched,
    }


def validate_midi(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  limits: MidiLimits | None = None) -> ValidatedMidi:
    """Validate an uploaded MIDI file and read it into a Piece.

    Returns a ValidatedMidi whose piece keeps only parts with notes. Raises
    MidiValidationError (one plain sentence) for anything that is not a small, readable,
    type 0/1 MIDI file with at least one note and at most ``limits.max_seconds`` of music.
    Multi-track files and drum tracks are accepted; a drums-only file is valid and says so.
    """
    limits = limits or MidiLimits()
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MidiValidationError(NOT_MIDI)
    if len(data) > max_bytes:
        raise MidiValidationError(too_large(max_bytes))
    data = bytes(data)
    scan = scan_midi(data, limits)
    piece = parse_in_child(data, limits)
    piece.parts = [p for p in piece.parts if p.notes]
    if piece.note_count == 0:
        raise MidiValidationError(NO_NOTES)
    if piece.note_count > limits.max_notes:
        raise MidiValidationError(too_many_notes(limits))
    if len(piece.parts) > limits.max_tracks:
        # pretty_midi starts a new part for each (track, channel, program), so a file with few
        # track chunks can still unfold into thousands of parts; the musician calls them tracks
        raise MidiValidationError(too_many_tracks(limits))
    if piece.duration_seconds > limits.max_seconds:
        raise MidiValidationError(too_long(limits))
    return ValidatedMidi(piece=piece, scan=scan, info=summarize(piece))


def main(argv: list[str] | None = None) -> int:
    """``python -m generation.music.validate FILE``: print the summary as JSON, or one line
    on stderr and exit status 2."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == [_CHILD_FLAG]:
        return _read_child_main(args[1:])
    if len(args) != 1:
        print("usage: python -m generation.music.validate FILE.mid", file=sys.stderr)
        return 2
    try:
        with open(args[0], "rb") as handle:
            data = handle.read(DEFAULT_MAX_BYTES + 1)  # enough to tell "too large"
        result = validate_midi(data)
    except OSError as exc:
        print(f"Cannot open {args[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except MidiValidationError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(json.dumps(result.summary()))
    return 0


__all__ = ["DEFAULT_MAX_BYTES", "MidiLimits", "MidiScan", "MidiValidationError", "ValidatedMidi", "parse_in_child",
           "scan_midi", "summarize", "validate_midi"]


if __name__ == "__main__":
    # Run the package's own copy of the module, so that there is one set of definitions.
    from generation.music.validate import main as _main

    sys.exit(_main())
