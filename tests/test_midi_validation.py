"""MIDI upload validation: every hostile file is refused with a plain sentence and never hangs
the caller; every valid file passes with the right meter, bars and notes; random damage to
valid files ends in a summary or a refusal, never in any other exception.

The hostile and valid files are written by ``scripts/make_hostile_midis.py`` (committed); the
two that are too big to commit are built here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generation.music import validate as validate_module
from generation.music.notes import Note, Part, Piece, piece_to_midi_bytes
from generation.music.validate import (
    MidiLimits,
    MidiScan,
    MidiValidationError,
    ValidatedMidi,
    parse_in_child,
    scan_midi,
    validate_midi,
)

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_DIR = ROOT / "tests" / "data" / "hostile_midi"
VALID_DIR = ROOT / "tests" / "data" / "valid_midi"
MANIFEST = json.loads((HOSTILE_DIR / "MANIFEST.json").read_text())
EXPECTED = json.loads((VALID_DIR / "EXPECTED.json").read_text())
HANG_GUARD_S = 10.0  # a guard against hangs, not a speed goal

_spec = importlib.util.spec_from_file_location("make_hostile_midis",
                                               ROOT / "scripts" / "make_hostile_midis.py")
make_hostile_midis = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_hostile_midis)

# Words that would mean the message speaks to a programmer, not a musician.
TECHNICAL_WORDS = ("MThd", "MTrk", "chunk", "VLQ", "byte", "0x", "\\x", "Traceback", "Error",
                   "Exception", "mido", "pretty_midi", "struct", "errno", "None", "tick")


def validate_guarded(data: bytes, **kwargs) -> dict:
    """validate_midi in a thread that must finish within the hang guard.

    Returns {"result": ValidatedMidi} or {"error": exception}, plus "seconds"."""
    box: dict = {}

    def work() -> None:
        start = time.perf_counter()
        try:
            box["result"] = validate_midi(data, **kwargs)
        except BaseException as exc:  # the test decides what was acceptable
            box["error"] = exc
        box["seconds"] = time.perf_counter() - start

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(HANG_GUARD_S)
    assert not worker.is_alive(), f"validation still running after {HANG_GUARD_S} s"
    return box


def assert_plain_sentence(message: str) -> None:
    assert message.strip(), "empty message"
    assert "\n" not in message and "\r" not in message, message
    assert message.endswith("."), message
    assert len(message) < 160, message
    for word in TECHNICAL_WORDS:
        assert word not in message, (word, message)


# ---------------------------------------------------------------------------------------------
# Hostile files
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile_outcomes() -> dict[str, dict]:
    return {name: validate_guarded((HOSTILE_DIR / name).read_bytes()) for name in MANIFEST}


def test_the_hostile_folder_holds_every_case_and_nothing_else():
    on_disk = {p.name for p in HOSTILE_DIR.glob("*.mid")}
    assert on_disk == set(MANIFEST)
    assert len(on_disk) >= 45
    assert all(p.stat().st_size < 1_000_000 for p in HOSTILE_DIR.glob("*.mid"))


def test_the_generator_is_deterministic_and_matches_the_committed_files():
    for name, (data, _, _) in make_hostile_midis.hostile_files().items():
        assert (HOSTILE_DIR / name).read_bytes() == data, name
    for name, (data, _) in make_hostile_midis.valid_files().items():
        assert (VALID_DIR / name).read_bytes() == data, name


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_hostile_file_is_refused_in_plain_words(name, hostile_outcomes):
    outcome = hostile_outcomes[name]
    assert "result" not in outcome, f"{name} was accepted: {outcome['result'].summary()}"
    error = outcome["error"]
    assert type(error) is MidiValidationError, repr(error)
    message = str(error)
    assert_plain_sentence(message)
    assert MANIFEST[name]["message_contains"] in message, (name, message)


def test_the_slowest_hostile_file_is_reported(hostile_outcomes, capsys):
    slowest = max(hostile_outcomes, key=lambda n: hostile_outcomes[n]["seconds"])
    seconds = hostile_outcomes[slowest]["seconds"]
    total = sum(o["seconds"] for o in hostile_outcomes.values())
    with capsys.disabled():
        print(f"\n{len(hostile_outcomes)} hostile files: slowest {slowest} "
              f"{seconds:.3f} s, all together {total:.2f} s")
    assert seconds < HANG_GUARD_S


def test_a_file_over_1_mb_is_refused_by_its_size_before_anything_reads_it(monkeypatch):
    huge = make_hostile_midis.huge_file()
    assert len(huge) > 1_000_000

    def must_not_scan(*args, **kwargs):
        raise AssertionError("the size check comes first")

    monkeypatch.setattr(validate_module, "scan_midi", must_not_scan)
    with pytest.raises(MidiValidationError, match=r"^This file is larger than 1 MB\.$"):
        validate_midi(huge)
    with pytest.raises(MidiValidationError, match=r"larger than 10 KB"):
        validate_midi((VALID_DIR / "waltz_3_4.mid").read_bytes() * 40, max_bytes=10_000)


def test_a_huge_file_is_accepted_when_the_size_limit_allows_it():
    result = validate_midi(make_hostile_midis.huge_file(), max_bytes=2_000_000)
    assert result.summary()["notes"] == 4


def test_a_million_notes_are_refused_by_count_before_any_parse(monkeypatch):
    data = make_hostile_midis.million_notes_file()
    assert len(data) > 1_000_000  # 3 bytes a note is the least MIDI allows

    def must_not_parse(*args, **kwargs):
        raise AssertionError("the scan should have refused it")

    monkeypatch.setattr(validate_module, "parse_in_child", must_not_parse)
    start = time.perf_counter()
    with pytest.raises(MidiValidationError, match=r"too many notes \(max 20,000\)"):
        validate_midi(data, max_bytes=4_000_000)
    assert time.perf_counter() - start < HANG_GUARD_S


@pytest.mark.parametrize(("name", "words"), [
    ("over_10_minutes.mid", "longer than 10 minutes"),
    ("only_note_offs.mid", "no notes"),
    ("notes_20001.mid", "too many notes"),
])
def test_the_checks_after_the_parse_hold_even_if_the_scan_let_a_file_through(
        name, words, monkeypatch):
    def lenient_scan(data, limits=None):
        return MidiScan(format=1, declared_tracks=1, ticks_per_beat=480, notes=1,
                        tempo_changes=0, events=1, max_tick=0, estimated_seconds=0.0,
                        trailing_bytes=0)

    monkeypatch.setattr(validate_module, "scan_midi", lenient_scan)
    with pytest.raises(MidiValidationError, match=words):
        validate_midi((HOSTILE_DIR / name).read_bytes())


def test_something_that_is_not_bytes_is_not_a_midi_file():
    with pytest.raises(MidiValidationError, match="not a MIDI file"):
        validate_midi("MThd")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The child-process parse protects the caller on its own
# ---------------------------------------------------------------------------------------------
def test_bytes_the_libraries_cannot_read_become_a_damaged_file_message():
    with pytest.raises(MidiValidationError, match="damaged and could not be read"):
        parse_in_child(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0garbage")


def test_a_parse_that_takes_too_long_is_abandoned_with_a_timeout_message(tmp_path, monkeypatch):
    data = (VALID_DIR / "waltz_3_4.mid").read_bytes()
    with pytest.raises(MidiValidationError, match="could not be read in time"):
        parse_in_child(data, MidiLimits(parse_timeout_s=0.01))
    # A child that would never answer (it sleeps 300 s) is killed at the timeout, not waited
    # for: a generous guard of 60 s tells the two apart on a busy machine, with no speed goal.
    pid_file = tmp_path / "child.pid"
    hanging = tmp_path / "python"
    hanging.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 300\n")
    hanging.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(hanging))
    start = time.monotonic()
    with pytest.raises(MidiValidationError, match="could not be read in time"):
        parse_in_child(data, MidiLimits(parse_timeout_s=1.0))
    assert time.monotonic() - start < 60
    with pytest.raises(ProcessLookupError):  # killed and reaped, not left sleeping
        os.kill(int(pid_file.read_text()), 0)


def test_the_parse_runs_under_its_memory_limit():
    # 64 MB of address space is less than Python with numpy needs, so this can only fail
    # if the limit is really applied to the child.
    data = (VALID_DIR / "waltz_3_4.mid").read_bytes()
    with pytest.raises(MidiValidationError, match="needs too much memory"):
        parse_in_child(data, MidiLimits(parse_memory_mb=64))
    assert len(parse_in_child(data).parts) == 2  # and the default limit leaves room


def test_the_largest_file_the_scan_lets_through_parses_within_the_cpu_and_memory_limits():
    mh = make_hostile_midis
    limits = MidiLimits()
    body = (mh.notes_body(1) + b"\x00\xb0\x07\x40"
            + b"\x01\x07\x41" * (limits.max_events - 4))
    data = mh.header(0, 1) + mh.track(body)
    assert scan_midi(data).events == limits.max_events
    # Measured in a fresh interpreter, so that the children's peak memory counts only the
    # one parse (RUSAGE_CHILDREN of this test process also holds earlier tests' workers).
    # CPU time, not wall time, is what the limit is about: this machine may be busy.
    probe = (
        "import json, resource, sys\n"
        "from generation.music.validate import MidiLimits, validate_midi\n"
        "r = validate_midi(sys.stdin.buffer.read(), limits=MidiLimits(parse_timeout_s=120))\n"
        "c = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        # VmHWM, not RUSAGE_SELF: Linux carries ru_maxrss over an exec, so a probe forked
        # from this (large) test process would report this process's size
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(json.dumps({'notes': r.summary()['notes'], 'cpu': c.ru_utime + c.ru_stime,\n"
        "                  'child_mb': c.ru_maxrss / 1024,\n"
        "                  'self_mb': int(hwm.split()[1]) / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], input=data, capture_output=True,
                         timeout=300, cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr.decode()[-500:]
    figures = json.loads(out.stdout)
    assert figures["notes"] == 1
    assert figures["cpu"] < limits.parse_timeout_s
    assert figures["child_mb"] < limits.parse_memory_mb
    assert figures["self_mb"] < 1024


# ---------------------------------------------------------------------------------------------
# Valid files
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_valid_file_passes_with_its_meter_bars_and_notes(name):
    outcome = validate_guarded((VALID_DIR / name).read_bytes())
    assert "result" in outcome, f"{name} refused: {outcome.get('error')}"
    result: ValidatedMidi = outcome["result"]
    summary = result.summary()
    facts = EXPECTED[name]
    for key in ("meter", "bars", "notes", "tracks", "drum_tracks", "drums_only", "tempo_bpm"):
        assert summary[key] == facts[key], (name, key, summary[key], facts[key])
    assert summary["seconds"] == pytest.approx(facts["seconds"], abs=0.01)
    if "key" in facts:
        assert summary["key"] == facts["key"]
    assert summary["notes"] == result.piece.note_count
    assert result.to_dict() == summary
    json.dumps(summary)  # the management command and the web page send it as JSON


def test_a_file_without_a_key_signature_gets_an_estimated_key():
    summary = validate_midi((VALID_DIR / "jig_6_8.mid").read_bytes()).summary()
    assert summary["key_estimated"] is True
    assert summary["key"].split()[1] in ("major", "minor")
    waltz = validate_midi((VALID_DIR / "waltz_3_4.mid").read_bytes()).summary()
    assert waltz["key_estimated"] is False


def test_drums_only_is_valid_and_says_so():
    result = validate_midi((VALID_DIR / "drums_only.mid").read_bytes())
    assert result.summary()["drums_only"] is True
    assert all(part.is_drum for part in result.piece.parts)


def test_the_scan_reports_what_it_counted():
    scan = scan_midi((VALID_DIR / "drums_piano.mid").read_bytes())
    assert isinstance(scan, MidiScan)
    assert (scan.format, scan.declared_tracks, scan.ticks_per_beat) == (1, 3, 480)
    assert scan.notes == 33 and scan.tempo_changes == 1
    assert scan.estimated_seconds == pytest.approx(9.6)
    junk = scan_midi((VALID_DIR / "trailing_junk.mid").read_bytes())
    assert junk.trailing_bytes == 64 + len("saved by an old sequencer")


def test_the_limits_can_be_tightened():
    waltz = (VALID_DIR / "waltz_3_4.mid").read_bytes()
    with pytest.raises(MidiValidationError, match=r"too many notes \(max 10\)"):
        validate_midi(waltz, limits=MidiLimits(max_notes=10))
    with pytest.raises(MidiValidationError, match="longer than 10 seconds"):
        validate_midi(waltz, limits=MidiLimits(max_seconds=10))
    with pytest.raises(MidiValidationError, match=r"too many tracks \(max 2\)"):
        validate_midi(waltz, limits=MidiLimits(max_tracks=2))
    with pytest.raises(MidiValidationError, match="too many tempo changes"):
        validate_midi((VALID_DIR / "tempo_change.mid").read_bytes(),
                      limits=MidiLimits(max_tempo_changes=1))


def test_a_corpus_chorale_written_by_the_engine_validates_with_the_same_notes():
    from music21 import corpus

    from generation.music.notes import piece_from_music21

    piece = piece_from_music21(corpus.parse("bach/bwv66.6"))
    result = validate_midi(piece_to_midi_bytes(piece))
    summary = result.summary()
    assert summary["notes"] == piece.note_count > 100
    assert summary["meter"] == "{}/{}".format(*piece.time_signature)
    assert summary["bars"] == piece.bars
    assert summary["tracks"] == len([p for p in piece.parts if p.notes])
    assert sorted((n.pitch, round(n.onset, 3)) for n in result.piece.all_notes()) == sorted(
        (n.pitch, round(n.onset, 3)) for n in piece.all_notes())


def test_a_piece_written_with_20000_notes_is_accepted_at_the_limit():
    notes = [Note(i * 0.05, 40 + i % 40, 0.05) for i in range(20_000)]
    data = piece_to_midi_bytes(Piece(parts=[Part(notes=notes)]))
    assert validate_midi(data).summary()["notes"] == 20_000


# ---------------------------------------------------------------------------------------------
# Random damage
# ---------------------------------------------------------------------------------------------
SEEDS = {name: (VALID_DIR / name).read_bytes() for name in sorted(EXPECTED)}

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(0, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 8)),
)


def damage(data: bytes, mutations) -> bytes:
    out = bytearray(data)
    for op, where, *rest in mutations:
        at = where % (len(out) + 1)
        if op == "flip" and out:
            out[at % len(out)] = rest[0]
        elif op == "truncate":
            del out[at:]
        elif op == "insert":
            out[at:at] = rest[0]
        elif op == "delete":
            del out[at:at + rest[0]]
    return bytes(out)


def check_outcome(data: bytes, outcome: dict) -> None:
    if "result" in outcome:
        result = outcome["result"]
        summary = result.summary()
        assert 1 <= summary["notes"] == result.piece.note_count <= MidiLimits().max_notes
        assert summary["seconds"] <= MidiLimits().max_seconds
        json.dumps(summary)
    else:
        error = outcome["error"]
        assert type(error) is MidiValidationError, f"{error!r} for {data[:64]!r}"
        assert_plain_sentence(str(error))


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SEEDS)), mutations=st.lists(mutation, min_size=1,
                                                                max_size=3))
def test_damaged_valid_files_end_in_a_summary_or_a_refusal(name, mutations):
    data = damage(SEEDS[name], mutations)
    check_outcome(data, validate_guarded(data))


@st.composite
def damaged_inside_the_tracks(draw) -> bytes:
    """Byte changes past the file header: most keep the chunk structure, so these reach the
    child-process parse far more often than damage anywhere does."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 3))):
        data[draw(st.integers(22, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=damaged_inside_the_tracks())
def test_damage_inside_the_tracks_ends_in_a_summary_or_a_refusal(data):
    check_outcome(data, validate_guarded(data))


@settings(max_examples=600, deadline=None, derandomize=True, database=None)
@given(name=st.sampled_from(sorted(SEEDS)), mutations=st.lists(mutation, min_size=1,
                                                                max_size=6))
def test_the_scan_alone_never_fails_in_another_way(name, mutations):
    # The scan is cheap, so it takes many more examples than the full validation.
    data = damage(SEEDS[name], mutations)
    try:
        scan = scan_midi(data)
    except MidiValidationError as error:
        assert_plain_sentence(str(error))
    else:
        assert 1 <= scan.notes <= MidiLimits().max_notes


# ---------------------------------------------------------------------------------------------
# manage.py validate_midi
# ---------------------------------------------------------------------------------------------
def test_the_management_command_prints_the_summary_or_one_line_and_exit_status_2():
    ok = subprocess.run([sys.executable, "manage.py", "validate_midi",
                         str(VALID_DIR / "waltz_3_4.mid")], cwd=ROOT, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == validate_midi(
        (VALID_DIR / "waltz_3_4.mid").read_bytes()).summary()

    bad = subprocess.run([sys.executable, "manage.py", "validate_midi",
                          str(HOSTILE_DIR / "type_2.mid")], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stdout == ""
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "type 2" in lines[0]


def test_the_management_command_refuses_a_large_file_and_a_missing_one(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    big = tmp_path / "big.mid"
    big.write_bytes(make_hostile_midis.huge_file())
    with pytest.raises(CommandError, match="larger than 1 MB") as refused:
        call_command("validate_midi", str(big))
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="Cannot open") as missing:
        call_command("validate_midi", str(tmp_path / "nowhere.mid"))
    assert missing.value.returncode == 2
