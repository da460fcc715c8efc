"""The jobs API and services in one process, against the run's real Redis: submission,
validation, limits, doorbells, access for the owner / a stranger / a share link, file
serving with Range, cancellation, deletion, claims and recovery. Worker processes are in
test_jobs_worker*.py."""

from __future__ import annotations

import io
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from generation import services
from generation.models import ApiToken, Job, Track
from generation.music.notes import Note, Part, Piece, piece_to_midi_bytes
from generation.pipeline import Variant
from tests.jobs_fixtures import (
    api,
    copy_variant,
    flush_generation_channel,
)

pytestmark = [pytest.mark.django_db]


# ---------------------------------------------------------------------------------------------
# people and things
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def template(rendered_variant) -> tuple[Path, dict]:
    """The session's rendered files (tests/studio_fixtures.py), to stage by hand."""
    folder, rendered = rendered_variant
    return folder, rendered["files"]


def seed_midi() -> bytes:
    notes = [Note(float(i), 60 + i % 5, 1.0, 80) for i in range(8)]
    return piece_to_midi_bytes(Piece(parts=[Part(notes=notes)], tempos=[(0.0, 100.0)]))


def media(settings, relative: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative


# ---------------------------------------------------------------------------------------------
# submission
# ---------------------------------------------------------------------------------------------
def test_a_compose_request_is_queued_and_its_id_sent_on_the_generation_channel(
    owner, django_capture_on_commit_callbacks
):
    flush_generation_channel()
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner).post(
            "/api/jobs/",
            {
                "kind": "compose",
                "mood": "stormy night at sea, restless",
                "style": "celtic",
                "bars": 8,
                "seed": 42,
                "temperature": 0.9,
                "top_p": 0.9,
                "variants": 2,
            },
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["url"] == f"/api/jobs/{body['id']}/"
    job = Job.objects.get(id=body["id"])
    assert job.owner == owner and job.kind == "compose"
    assert job.parameters["seed"] == 42 and job.parameters["variants"] == 2
    assert job.parameters["attributes"]["mode"] in ("major", "minor")  # read from the mood
    assert job.last_sent_at is not None
    message = async_to_sync(channel_layers["default"].receive)("generation")
    assert message == {"type": "job.run", "job_id": job.id}


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({"kind": "remix"}, "kind"),
        ({"kind": "compose", "style": "bebop"}, "style"),
        ({"kind": "compose", "bars": 0}, "bars"),
        ({"kind": "compose", "bars": "many"}, "bars"),
        ({"kind": "compose", "temperature": "NaN"}, "temperature"),
        ({"kind": "compose", "variants": 9}, "variants"),
        ({"kind": "compose", "attributes": {"mode": "lydian"}}, "mode"),
        ({"kind": "compose", "attributes": {"loudness": 3}}, "loudness"),
        ({"kind": "compose", "mood": "x" * 600}, "too long"),
        ({"kind": "continue"}, "MIDI"),
    ],
)
def test_bad_requests_answer_400_and_queue_nothing(owner, payload, fragment):
    response = api(owner).post("/api/jobs/", payload, content_type="application/json")
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert not Job.objects.exists()


def test_a_broken_midi_upload_is_refused_with_the_music_layers_message(owner):
    response = api(owner).post(
        "/api/jobs/", {"kind": "continue", "midi": io.BytesIO(b"MThd not really"), "bars": "4"}
    )
    assert response.status_code == 400
    assert "MIDI" in response.json()["error"] or "damaged" in response.json()["error"]
    assert not Job.objects.exists()


def test_continue_and_transfer_take_a_multipart_midi_upload(owner, settings):
    client = api(owner)
    upload = io.BytesIO(seed_midi())
    upload.name = "seed.mid"
    response = client.post(
        "/api/jobs/",
        {
            "kind": "continue",
            "midi": upload,
            "bars": "4",
            "attributes": json.dumps({"mode": "minor"}),
        },
    )
    assert response.status_code == 202, response.content
    job = Job.objects.get(id=response.json()["id"])
    assert job.parameters["attributes"] == {"mode": "minor"}
    assert media(settings, job.input_file).read_bytes() == seed_midi()
    upload = io.BytesIO(seed_midi())
    upload.name = "seed.mid"
    response = client.post(
        "/api/jobs/", {"kind": "transfer", "midi": upload, "to_style": "celtic", "variants": "3"}
    )
    assert response.status_code == 202, response.content
    job = Job.objects.get(id=response.json()["id"])
    assert job.parameters["to_style"] == "celtic" and job.parameters["variants"] == 1
    upload = io.BytesIO(seed_midi())
    response = client.post("/api/jobs/", {"kind": "transfer", "midi": upload, "to_style": "jazz"})
    assert response.status_code == 400 and "to_style" in response.json()["error"]


def test_midi_inspect_summarises_an_upload_without_queueing(owner):
    client = api(owner)
    response = client.post("/api/midi/inspect/", {"midi": io.BytesIO(seed_midi())})
    assert response.status_code == 200, response.content
    summary = response.json()
    assert summary["notes"] == 8 and summary["meter"] == "4/4" and summary["bars"] == 2
    assert client.post("/api/midi/inspect/", {"midi": io.BytesIO(b"junk")}).status_code == 400
    assert not Job.objects.exists()


def test_limits_answer_429_with_a_message(owner, make_track, make_user, settings):
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 2
    client = api(owner)
    for _ in range(2):
        assert client.post("/api/jobs/", {}, content_type="application/json").status_code == 202
    response = client.post("/api/jobs/", {}, content_type="application/json")
    assert response.status_code == 429 and "already have 2 jobs" in response.json()["error"]

    settings.STUDIO_MAX_QUEUE = 2  # the two queued jobs above fill the studio's queue
    other = api(make_user("other"))
    response = other.post("/api/jobs/", {}, content_type="application/json")
    assert response.status_code == 429 and "busy" in response.json()["error"]

    settings.STUDIO_MAX_QUEUE = 50
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 5
    third = make_user("third")
    track = make_track(third, title="Sea at night")
    settings.STUDIO_USER_STORAGE_MB = 1
    Track.objects.filter(id=track.id).update(size_bytes=2 * 1024 * 1024)
    response = api(third).post("/api/jobs/", {}, content_type="application/json")
    assert response.status_code == 429 and "storage" in response.json()["error"]
    assert Job.objects.filter(owner=third).count() == 1


def test_a_full_channel_leaves_the_job_queued_until_recovery_sends_it(
    owner, settings, django_capture_on_commit_callbacks
):
    layer_settings = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**layer_settings, "CONFIG": {**layer_settings["CONFIG"], "capacity": 1}}
    }
    channel_layers.backends.clear()
    try:
        flush_generation_channel()
        layer = channel_layers["default"]
        async_to_sync(layer.send)("generation", {"type": "job.run", "job_id": 0})  # now full
        with django_capture_on_commit_callbacks(execute=True):
            job = services.submit_job(user=owner, kind="compose", params={})
        job.refresh_from_db()
        assert job.status == "queued" and job.last_sent_at is None
        # nothing is rung while the channel stays full
        later = timezone.now() + timedelta(seconds=5)
        assert services.recover_jobs(now=later)["resent"] == 0
        assert async_to_sync(layer.receive)("generation")["job_id"] == 0  # room again
        assert services.recover_jobs(now=later)["resent"] == 1
        assert async_to_sync(layer.receive)("generation") == {"type": "job.run", "job_id": job.id}
        # rate limit: a second pass in the same window rings nothing more
        assert services.recover_jobs(now=later + timedelta(seconds=1))["resent"] == 0
    finally:
        channel_layers.backends.clear()


# ---------------------------------------------------------------------------------------------
# claims, finishing, recovery (services)
# ---------------------------------------------------------------------------------------------
def test_a_job_is_claimed_once_and_finished_once(owner, template, tmp_path):
    job = services.submit_job(user=owner, kind="compose", params={})
    assert services.claim_job(job_id=job.id, worker_id="a") is not None
    assert services.claim_job(job_id=job.id, worker_id="b") is None  # second delivery
    folder, files = template

    def variant(n: int) -> Variant:
        staging = copy_variant(folder, tmp_path / f"s{n}" / "variant-1")
        return Variant(number=1, folder=staging, files=files, title="t", seed=1, model_version="m")

    assert services.finish_job(job_id=job.id, worker_id="b", variants=[variant(1)]) is None
    assert len(services.finish_job(job_id=job.id, worker_id="a", variants=[variant(2)])) == 1
    assert services.finish_job(job_id=job.id, worker_id="a", variants=[variant(3)]) is None
    job.refresh_from_db()
    assert job.status == "done" and job.attempts == 1 and job.tracks.count() == 1


def test_recovery_requeues_a_silent_worker_job_then_fails_it_after_the_last_attempt(
    owner, settings
):
    settings.STUDIO_MAX_ATTEMPTS = 2
    job = services.submit_job(user=owner, kind="compose", params={})
    services.claim_job(job_id=job.id, worker_id="gone")
    assert services.recover_jobs()["requeued"] == 0  # its heartbeat is fresh
    later = timezone.now() + timedelta(seconds=settings.STUDIO_STALE_WORKER_SECONDS + 1)
    assert services.recover_jobs(now=later)["requeued"] == 1
    job.refresh_from_db()
    assert job.status == "queued" and job.worker_id == "" and job.attempts == 1
    services.claim_job(job_id=job.id, worker_id="gone-again")
    later = timezone.now() + timedelta(seconds=settings.STUDIO_STALE_WORKER_SECONDS + 1)
    assert services.recover_jobs(now=later)["failed"] == 1
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 2
    assert "stopped unexpectedly 2 times" in job.error


def test_a_worker_shutting_down_gives_its_job_back_without_counting_the_attempt(owner):
    job = services.submit_job(user=owner, kind="compose", params={})
    services.claim_job(job_id=job.id, worker_id="w")
    assert services.requeue_job(job_id=job.id, worker_id="w", reason="shutting down")
    job.refresh_from_db()
    assert job.status == "queued" and job.attempts == 0 and job.worker_id == ""
    assert not services.requeue_job(job_id=job.id, worker_id="w", reason="again")


def test_heartbeats_count_live_workers(settings):
    services.beat(worker_id="w1", busy=False)
    services.beat(worker_id="w2", busy=True)
    assert services.live_worker_count() == 2
    later = timezone.now() + timedelta(seconds=settings.STUDIO_STALE_WORKER_SECONDS + 1)
    assert services.live_worker_count(now=later) == 0
    services.forget_worker(worker_id="w1")
    assert services.live_worker_count() == 1


# ---------------------------------------------------------------------------------------------
# reading, access, files
# ---------------------------------------------------------------------------------------------
def test_the_owner_reads_job_and_track_with_file_urls(owner, make_track, settings):
    track = make_track(owner, title="Sea at night")
    client = api(owner)
    job = client.get(f"/api/jobs/{track.job_id}/").json()
    assert job["status"] == "done" and job["tracks"] == [track.id] and job["track"] == track.id
    assert job["attempts"] == 1 and job["error"] is None and job["progress"] == 100
    data = client.get(f"/api/tracks/{track.id}/").json()
    assert data["title"] == "Sea at night" and data["seed"] == 7
    assert data["model_version"] == "test-model-1" and data["visibility"] == "private"
    assert set(data["files"]) >= {"midi", "musicxml", "svg", "audio", "pianoroll"}
    for kind in ("midi", "musicxml", "svg", "audio", "pianoroll", "timemap"):
        response = client.get(data["files"][kind])
        assert response.status_code == 200, kind
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "filename=" in response["Content-Disposition"]
    import xml.etree.ElementTree as ET

    page = b"".join(client.get(data["files"]["svg_pages"][0]).streaming_content)
    assert page == media(settings, track.files["svg"][0]).read_bytes()  # the engraved page
    assert ET.fromstring(page).tag == "{http://www.w3.org/2000/svg}svg"


def test_strangers_get_404_for_jobs_tracks_and_files(owner, make_track, stranger):
    track = make_track(owner, title="Sea at night")
    other = api(stranger)
    anonymous = Client()
    for client in (other, anonymous):
        assert client.get(f"/api/tracks/{track.id}/").status_code == 404
        assert client.get(f"/api/tracks/{track.id}/files/audio").status_code == 404
        assert client.get(f"/api/tracks/{track.id}/files/midi").status_code == 404
    assert other.get(f"/api/jobs/{track.job_id}/").status_code == 404
    assert other.post(f"/api/jobs/{track.job_id}/cancel/").status_code == 404
    assert other.delete(f"/api/tracks/{track.id}/").status_code == 404
    assert anonymous.get(f"/api/jobs/{track.job_id}/").status_code == 401
    assert Track.objects.filter(id=track.id).exists()


def test_an_unlisted_track_opens_only_through_its_share_token(owner, make_track, stranger):
    track = make_track(owner, visibility="unlisted", title="Sea at night")
    other = api(stranger)
    assert other.get(f"/api/tracks/{track.id}/").status_code == 404
    shared = other.get(f"/api/shared/{track.share_token}/")
    assert shared.status_code == 200 and shared.json()["id"] == track.id
    assert "share_url" not in shared.json()  # only the owner sees the link itself
    audio_url = shared.json()["files"]["audio"]
    assert track.share_token in audio_url
    assert Client().get(audio_url).status_code == 200
    assert Client().get("/api/shared/not-the-token/").status_code == 404
    Track.objects.filter(id=track.id).update(visibility=Track.Visibility.PRIVATE)
    assert Client().get(f"/api/shared/{track.share_token}/").status_code == 404
    assert Client().get(audio_url).status_code == 404


def test_a_public_track_is_readable_by_anyone_by_id(owner, make_track):
    track = make_track(owner, visibility="public", title="Sea at night")
    response = Client().get(f"/api/tracks/{track.id}/")
    assert response.status_code == 200 and response.json()["mine"] is False


def test_audio_is_served_with_http_ranges(owner, make_track, settings):
    track = make_track(owner, title="Sea at night")
    client = api(owner)
    url = f"/api/tracks/{track.id}/files/audio"
    whole = b"".join(client.get(url).streaming_content)
    size = media(settings, track.files["audio"]).stat().st_size
    assert len(whole) == size
    response = client.get(url, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{size}"
    assert response["Content-Length"] == "100"
    assert b"".join(response.streaming_content) == whole[100:200]
    response = client.get(url, HTTP_RANGE="bytes=-50")
    assert response.status_code == 206 and b"".join(response.streaming_content) == whole[-50:]
    response = client.get(url, HTTP_RANGE=f"bytes={size - 10}-")
    assert b"".join(response.streaming_content) == whole[-10:]
    response = client.get(url, HTTP_RANGE=f"bytes={size + 5}-")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{size}"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client.get(url)["Content-Type"] == "audio/mpeg"
    assert client.get(url)["Accept-Ranges"] == "bytes"


def test_deleting_a_track_removes_its_files(
    owner, make_track, settings, django_capture_on_commit_callbacks
):
    track = make_track(owner, title="Sea at night")
    folder = media(settings, track.media_dir)
    assert (folder / "track.mid").is_file()
    with django_capture_on_commit_callbacks(execute=True):
        assert api(owner).delete(f"/api/tracks/{track.id}/").status_code == 204
    assert not Track.objects.filter(id=track.id).exists()
    assert not folder.exists()


def test_cancelling_a_queued_job_removes_its_upload(
    owner, settings, django_capture_on_commit_callbacks
):
    upload = io.BytesIO(seed_midi())
    client = api(owner)
    job_id = client.post("/api/jobs/", {"kind": "continue", "midi": upload}).json()["id"]
    job = Job.objects.get(id=job_id)
    assert media(settings, job.input_file).is_file()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/jobs/{job_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert not media(settings, job.input_file).exists()
    assert client.post(f"/api/jobs/{job_id}/cancel/").status_code == 409
    # a cancelled job is never claimed
    assert services.claim_job(job_id=job_id, worker_id="w") is None


def test_visibility_can_be_changed_by_the_owner_only(owner, make_track, stranger):
    track = make_track(owner, title="Sea at night")
    body = json.dumps({"visibility": "public"})
    assert (
        api(stranger)
        .patch(f"/api/tracks/{track.id}/", body, content_type="application/json")
        .status_code
        == 404
    )
    response = api(owner).patch(f"/api/tracks/{track.id}/", body, content_type="application/json")
    assert response.status_code == 200 and response.json()["visibility"] == "public"
    bad = api(owner).patch(
        f"/api/tracks/{track.id}/",
        json.dumps({"visibility": "secret"}),
        content_type="application/json",
    )
    assert bad.status_code == 400


# ---------------------------------------------------------------------------------------------
# authentication
# ---------------------------------------------------------------------------------------------
def test_issue_token_prints_only_the_token_and_stores_only_its_digest(owner):
    out = io.StringIO()
    call_command("issue_token", "newcomer", "--create", stdout=out)
    key = out.getvalue().strip()
    assert "\n" not in key and len(key) >= 40
    stored = ApiToken.objects.get(user__username="newcomer")
    assert stored.digest == ApiToken.digest_of(key) and key not in stored.digest


def test_a_wrong_token_is_401_and_a_session_post_needs_csrf(owner):
    bad = Client(HTTP_AUTHORIZATION="Token nope")
    assert bad.get("/api/jobs/").status_code == 401
    session = Client(enforce_csrf_checks=True)
    session.force_login(owner)
    assert session.get("/api/jobs/").status_code == 200
    response = session.post("/api/jobs/", {}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
    assert not Job.objects.exists()


def test_recovery_removes_staging_left_by_a_killed_worker(settings):
    import os
    import time as _time

    old = media(settings, "staging/job-1-deadworker/variant-1")
    old.mkdir(parents=True)
    (old / "track.mid").write_bytes(b"x")
    fresh = media(settings, "staging/job-2-liveworker")
    fresh.mkdir(parents=True)
    long_ago = _time.time() - 7 * 3600
    os.utime(old.parent, (long_ago, long_ago))
    try:
        services.recover_jobs()
        assert not old.parent.exists() and fresh.exists()
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def test_the_job_list_reads_its_tracks_in_one_query(owner, django_assert_max_num_queries):
    """GET /api/jobs/ with many finished jobs: a fixed number of queries, not one a job."""
    for n in range(6):
        job = Job.objects.create(owner=owner, kind="compose", parameters={},
                                 status=Job.Status.DONE)
        for v in (1, 2, 3):
            Track.objects.create(owner=owner, job=job, variant=v, title=f"t{n}-{v}", files={})
    client = api(owner)
    with django_assert_max_num_queries(6):  # token, user, jobs, tracks (+ session bits)
        data = client.get("/api/jobs/").json()
    assert len(data["jobs"]) == 6
    for j in data["jobs"]:
        assert len(j["tracks"]) == 3


def test_an_oversized_upload_is_refused_everywhere_with_the_validators_message(
    owner, client, settings
):
    """API jobs, MIDI inspection and the compose page read at most the limit plus one byte
    and refuse with the same sentence; nothing is queued."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.STUDIO_MAX_UPLOAD_BYTES = 2_000
    big = seed_midi() + b"\0" * 5_000  # a valid start, far past the limit
    r = api(owner).post("/api/jobs/", {"kind": "continue", "midi": io.BytesIO(big)})
    assert r.status_code == 400 and "larger than 2 KB" in r.json()["error"]
    r = api(owner).post("/api/midi/inspect/", {"midi": io.BytesIO(big)})
    assert r.status_code == 400 and "larger than 2 KB" in r.json()["error"]
    client.force_login(owner)
    page = client.post("/compose/", {"way": "continue", "bars": 8, "temperature": 1.0,
                                     "variants": 1,
                                     "midi": SimpleUploadedFile("big.mid", big)})
    assert page.status_code == 400 and "larger than 2 KB" in page.content.decode()
    assert not Job.objects.exists()
