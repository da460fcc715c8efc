"""MIDI parsing is bounded: quotas are checked before a parse child starts, each user has a
parse rate, a server process runs few parses at once (503 with Retry-After beyond), and a
file already read is not parsed again (cached by its SHA-256)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.cache import cache

from generation import pipeline
from generation.models import Job
from generation.music import validate
from generation.music.notes import Note, Part, Piece, piece_to_midi_bytes
from studio.processes import free_port, stop_process
from tests.jobs_fixtures import api, child_database_url

ROOT = Path(__file__).resolve().parent.parent
INSPECT = "/api/midi/inspect/"


def midi(variant: int = 0) -> bytes:
    notes = [Note(float(i), 60 + (i + variant) % 7, 1.0, 80) for i in range(8 + variant % 5)]
    return piece_to_midi_bytes(Piece(parts=[Part(notes=notes)], tempos=[(0.0, 100.0 + variant)]))


@pytest.fixture
def parses(monkeypatch):
    """Counts the parse children started (the real parse still runs)."""
    calls = []
    real = validate.parse_in_child

    def counting(data, limits=None):
        calls.append(len(data))
        return real(data, limits)

    monkeypatch.setattr(validate, "parse_in_child", counting)
    return calls


def _inspect(client, data: bytes):
    return client.post(INSPECT, {"midi": io.BytesIO(data)})


def _not_near_a_minute_boundary():
    if time.time() % 60 > 55:  # the per-minute window must not turn over mid-test
        time.sleep(60 - time.time() % 60 + 0.1)


@pytest.mark.django_db
def test_a_user_over_a_quota_starts_no_parse(owner, settings, parses):
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 1
    Job.objects.create(owner=owner, kind="compose", status=Job.Status.QUEUED)
    client = api(owner)
    response = _inspect(client, midi())
    assert response.status_code == 429 and "already have 1 jobs" in response.json()["error"]
    response = client.post("/api/jobs/", {"kind": "continue", "midi": io.BytesIO(midi(1))})
    assert response.status_code == 429
    assert parses == []


@pytest.mark.django_db
def test_the_same_file_is_parsed_once(owner, parses):
    client = api(owner)
    first = _inspect(client, midi(2))
    second = _inspect(client, midi(2))
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() and first.json()["notes"] == 10
    response = client.post("/api/jobs/", {"kind": "continue", "midi": io.BytesIO(midi(2))})
    assert response.status_code == 202
    assert Job.objects.get().parameters["input_summary"] == first.json()
    # a damaged file's answer is remembered as well
    assert _inspect(client, b"MThd-not-really").status_code == 400
    assert _inspect(client, b"MThd-not-really").status_code == 400
    assert len(parses) == 1  # the junk is refused by the scan, before any child


@pytest.mark.django_db
def test_each_user_has_a_parse_rate(owner, stranger, settings, parses):
    settings.STUDIO_MIDI_PARSES_PER_MINUTE = 3
    _not_near_a_minute_boundary()
    client = api(owner)
    for i in range(3):
        assert _inspect(client, midi(10 + i)).status_code == 200
    response = _inspect(client, midi(20))
    assert response.status_code == 429 and "in a minute" in response.json()["error"]
    assert len(parses) == 3
    assert _inspect(api(stranger), midi(20)).status_code == 200


@pytest.mark.django_db
def test_past_the_parallel_parses_the_answer_is_503_with_retry_after(owner, settings, parses):
    settings.STUDIO_MAX_PARALLEL_PARSES = 1
    slots = pipeline.parse_slots()
    assert slots.acquire(timeout=1)  # someone else's parse is running
    try:
        started = time.monotonic()
        response = _inspect(api(owner), midi(30))
        # a generous guard on a shared machine: "busy" comes after PARSE_SLOT_WAIT_SECONDS,
        # where a queueing server would wait for the held slot, i.e. forever
        assert time.monotonic() - started < 30
        assert response.status_code == 503 and response["Retry-After"].isdigit()
        assert "try again" in response.json()["error"]
        assert parses == []
    finally:
        slots.release()
    assert _inspect(api(owner), midi(30)).status_code == 200
    cache.clear()


# ---------------------------------------------------------------------------------------------
# a real daphne: a burst of inspects does not take /healthz down
# ---------------------------------------------------------------------------------------------
def _get(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_inspects_keep_healthz_answering(owner, tmp_path):
    token = api(owner).defaults["HTTP_AUTHORIZATION"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({
        "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DATABASE_URL": child_database_url(),
        "STUDIO_MIDI_PARSES_PER_MINUTE": "100", "STUDIO_MAX_PARALLEL_PARSES": "2",
    })
    port = free_port()
    daphne = subprocess.Popen(
        [sys.executable, "-m", "studio.serve", "-b", "127.0.0.1", "-p", str(port),
         "studio.asgi:application"],
        cwd=ROOT, env=env, stdout=(tmp_path / "daphne.log").open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and daphne.poll() is None
                time.sleep(0.1)
        assert _get(base + "/healthz", 10) == 200

        statuses: list[int] = []

        def inspect(i: int) -> None:
            boundary = "cadenza-test"
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"midi\"; "
                    f"filename=\"seed{i}.mid\"\r\nContent-Type: audio/midi\r\n\r\n").encode() \
                + midi(100 + i) + f"\r\n--{boundary}--\r\n".encode()
            request = urllib.request.Request(base + INSPECT, data=body, method="POST", headers={
                "Authorization": token,
                "Content-Type": f"multipart/form-data; boundary={boundary}"})
            statuses.append(_get_request(request))

        threads = [threading.Thread(target=inspect, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        health_times = []
        while any(t.is_alive() for t in threads):
            started = time.monotonic()
            assert _get(base + "/healthz", 10) == 200
            health_times.append(time.monotonic() - started)
            time.sleep(0.1)
        for t in threads:
            t.join()
        # every /healthz answered 200 while the burst ran (each within _get's 10 s timeout,
        # a generous guard on two shared cores; a server whose threads all parse never answers)
        assert health_times, health_times
        assert sorted(set(statuses)) <= [200, 503] and statuses.count(200) >= 2, statuses
        assert 503 in statuses  # more than two at once were turned away, not queued
    finally:
        stop_process(daphne)


def _get_request(request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
