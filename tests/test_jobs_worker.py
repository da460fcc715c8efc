"""Jobs run by real ``runworker generation`` processes on the run's real Redis: a request
becomes tracks with every file; a continuation keeps its seed; a doubled doorbell makes one
set of tracks; the websocket tells the owner only. (Failures: test_jobs_failures.py.)"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from generation import services
from generation.consumers import JobProgressConsumer
from generation.models import Track
from generation.music.notes import Note, Part, Piece, piece_from_midi, piece_to_midi_bytes
from generation.render.audio import DYNAMICS_PEAK, RELEASE_SECONDS
from tests.jobs_fixtures import (
    WORKER_TESTS,
    api,
    wait_done,
    wait_for,
)

pytestmark = [*WORKER_TESTS, pytest.mark.usefixtures("fast_jobs")]


def test_a_compose_job_becomes_three_tracks_with_every_file(owner, settings, worker_factory):
    worker = worker_factory()
    client = api(owner)
    response = client.post(
        "/api/jobs/",
        {"kind": "compose", "mood": "calm sea at dawn", "bars": 4, "variants": 3, "seed": 5},
        content_type="application/json",
    )
    assert response.status_code == 202
    job = wait_done(response.json()["id"])
    assert job.attempts == 1 and job.progress == 100
    assert set(job.stage_seconds) >= {"model", "notation", "audio"}
    state = client.get(f"/api/jobs/{job.id}/").json()
    assert len(state["tracks"]) == 3 and state["track"] == state["tracks"][0]
    seeds = set()
    for track in Track.objects.filter(job=job).order_by("variant"):
        seeds.add(track.seed)
        root = Path(settings.MEDIA_ROOT)
        for kind, value in track.files.items():
            for relative in value if isinstance(value, list) else [value]:
                assert (root / relative).is_file() and (root / relative).stat().st_size > 0, kind
        piece = piece_from_midi(root / track.files["midi"])
        assert piece.bars == 4  # what was asked for
        audio, rate = sf.read(str(root / track.files["audio"]), dtype="float32")
        seconds = len(audio) / rate
        assert (
            piece.duration_seconds - 0.5
            <= seconds
            <= (piece.duration_seconds + 0.5 + RELEASE_SECONDS)
        )
        # not silent: well above -46 dBFS, peaking at the level of the mood's dynamics
        assert float(np.sqrt(np.mean(np.square(audio)))) > 0.005
        expected_peak = DYNAMICS_PEAK.get(job.parameters["attributes"].get("dynamics"), 0.89)
        assert abs(float(np.abs(audio).max()) - expected_peak) < 0.06
        assert (root / track.files["pianoroll"]).read_bytes()[:4] == b"\x89PNG"
        metadata = client.get(f"/api/tracks/{track.id}/").json()
        assert client.get(metadata["files"]["audio"]).status_code == 200
    assert len(seeds) == 3
    assert worker.proc.poll() is None  # still serving
    assert services.live_worker_count() == 1


def test_a_job_delivered_three_times_runs_once(owner, worker_factory):
    worker = worker_factory(delay=1.0)
    job = services.submit_job(user=owner, kind="compose", params={"bars": 2, "variants": 2})
    # two more deliveries while it runs: the worker takes one message at a time, so these
    # wait in Redis and may expire there (channel expiry 2 s here), which is harmless too
    assert services.ring_doorbell(job.id) and services.ring_doorbell(job.id)
    job = wait_done(job.id)
    assert job.attempts == 1
    assert sorted(Track.objects.filter(job=job).values_list("variant", flat=True)) == [1, 2]
    # and two late ones, once it is done: each is answered, and runs nothing
    before = worker.log().count(f"doorbell for job {job.id}: nothing to do")
    assert services.ring_doorbell(job.id) and services.ring_doorbell(job.id)
    wait_for(
        lambda: worker.log().count(f"doorbell for job {job.id}: nothing to do") >= before + 2,
        20,
        "the two late deliveries to be answered with nothing to do",
    )
    job.refresh_from_db()
    assert job.attempts == 1 and job.tracks.count() == 2


def test_the_websocket_speaks_to_the_owner_only(owner, stranger):
    job = services.submit_job(user=owner, kind="compose", params={"bars": 2})

    def session_of(user):
        # the session AuthMiddlewareStack would give the consumer: events go to it only
        # while it lasts
        client = Client()
        client.force_login(user)
        return client.session

    sessions = {u.pk: session_of(u) for u in (owner, stranger)}

    async def listen(user):
        communicator = WebsocketCommunicator(JobProgressConsumer.as_asgi(), f"/ws/jobs/{job.id}/")
        communicator.scope["user"] = user
        communicator.scope["session"] = sessions[user.pk]
        communicator.scope["url_route"] = {"kwargs": {"job_id": job.id}}
        connected, code = await communicator.connect()
        if not connected:
            return connected, code, []
        received = [await communicator.receive_json_from(timeout=5)]
        from asgiref.sync import sync_to_async

        await sync_to_async(services.claim_job)(job_id=job.id, worker_id="w")
        await sync_to_async(services.report_progress)(
            job_id=job.id, worker_id="w", progress=40, stage="composing"
        )
        while len(received) < 3:
            received.append(await communicator.receive_json_from(timeout=5))
        await communicator.disconnect()
        return connected, code, received

    connected, code, _ = async_to_sync(listen)(stranger)
    assert not connected
    connected, _, received = async_to_sync(listen)(owner)
    assert connected
    assert received[0]["status"] == "queued" and received[0]["id"] == job.id
    assert received[-1]["status"] == "running" and received[-1]["progress"] == 40
    assert received[-1]["stage"] == "composing"


def test_a_continuation_keeps_the_seed_and_adds_bars(owner, settings, worker_factory):
    """The upload reaches the engine and its result the track. The test engine copies the
    seed itself; that the committed model keeps it is test_jobs_real_engine.py's to show."""
    worker_factory()
    seed = Piece(
        parts=[Part(notes=[Note(float(i), 60 + i % 4, 1.0, 80) for i in range(8)])],
        tempos=[(0.0, 100.0)],
    )
    upload = io.BytesIO(piece_to_midi_bytes(seed))
    response = api(owner).post("/api/jobs/", {"kind": "continue", "midi": upload, "bars": "2"})
    assert response.status_code == 202, response.content
    job = wait_done(response.json()["id"])
    track = Track.objects.get(job=job)
    result = piece_from_midi(Path(settings.MEDIA_ROOT) / track.files["midi"])
    assert result.bars == seed.bars + 2
    head = sorted((n.onset, n.pitch) for n in result.all_notes() if n.onset < seed.end_beat)
    assert head == sorted((n.onset, n.pitch) for n in seed.all_notes())


def test_the_websocket_through_the_site_checks_the_session(owner, stranger):
    """The full ASGI stack (origin check, session auth, routing), not the consumer alone."""
    from studio.asgi import application

    job = services.submit_job(user=owner, kind="compose", params={"bars": 2})

    def cookie_of(user) -> bytes:
        client = Client()
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    async def connect(cookie: bytes | None, origin: bytes = b"http://localhost"):
        headers = [(b"origin", origin), (b"host", b"localhost")]
        if cookie:
            headers.append((b"cookie", cookie))
        communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=headers)
        connected, _ = await communicator.connect()
        first = await communicator.receive_json_from(timeout=5) if connected else None
        await communicator.disconnect()
        return connected, first

    owner_cookie = cookie_of(owner)
    connected, first = async_to_sync(connect)(owner_cookie)
    assert connected and first["id"] == job.id and first["status"] == "queued"
    assert async_to_sync(connect)(cookie_of(stranger))[0] is False
    assert async_to_sync(connect)(None)[0] is False
    assert async_to_sync(connect)(owner_cookie, b"http://evil.example")[0] is False
