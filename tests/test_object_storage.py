"""Files in an S3-compatible object store (STUDIO_STORAGE=s3) against moto's server on
loopback, started here: a real worker and this process (the web side, through the same views
daphne serves) each get their own local folder, so nothing can pass through a shared disk.
A job's upload goes to the bucket and the worker reads a copy; the worker renders and
publishes the track's files to the bucket; downloads check access on every request, then redirect to a short-lived
signed URL on which Range works; deleting a track removes its objects."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from generation import services, storage
from generation.models import Job, Track
from generation.music.notes import Note, Part, Piece, piece_to_midi_bytes
from studio.processes import free_port, stop_process
from tests.jobs_fixtures import WORKER_TESTS, api, wait_done

pytestmark = [*WORKER_TESTS, pytest.mark.usefixtures("fast_jobs")]

BUCKET = "cadenza-test"
KEYS = {"STUDIO_S3_ACCESS_KEY": "testing-key", "STUDIO_S3_SECRET_KEY": "testing-secret"}


@pytest.fixture(scope="module")
def s3_server():
    """moto's S3 server on a free loopback port with one empty bucket; its endpoint URL."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (dev extra)")
    boto3 = pytest.importorskip("boto3", reason="boto3 is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # slow to import on a busy machine
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1).close()
            break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline or proc.poll() is not None:
                stop_process(proc)
                pytest.fail("moto's S3 server did not start within 300 s")
            time.sleep(0.2)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=KEYS["STUDIO_S3_ACCESS_KEY"],
                          aws_secret_access_key=KEYS["STUDIO_S3_SECRET_KEY"])
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    stop_process(proc)


@pytest.fixture
def s3(s3_server, settings, tmp_path, monkeypatch):
    """This process on the object store with its own MEDIA_ROOT; the env a worker needs."""
    from studio.settings import s3_storage

    endpoint, client = s3_server
    env = {"STUDIO_STORAGE": "s3", "STUDIO_S3_BUCKET": BUCKET,
           "STUDIO_S3_ENDPOINT_URL": endpoint, **KEYS}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings.STUDIO_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage()}
    settings.MEDIA_ROOT = tmp_path / "web-media"
    worker_media = tmp_path / "worker-media"
    env["MEDIA_ROOT"] = str(worker_media)
    return client, env, worker_media


def _keys(client, prefix: str) -> set[str]:
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for item in listing.get("Contents", [])}


def _seed_midi() -> bytes:
    notes = [Note(float(i), 60 + (i % 5), 1.0, 80) for i in range(8)]
    return piece_to_midi_bytes(Piece(parts=[Part(notes=notes, program=0, name="Seed")]))


def _no_files_under(folder) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and "staging" not in p.parts]


def test_an_upload_goes_to_the_bucket_and_the_worker_reads_a_copy(owner, s3, settings):
    """The seed of a continue/transfer job: stored by the web side, fetched by the worker
    into its staging folder (no MIDI parse here: it is the storage path under test)."""
    client, _env, _media = s3
    job = Job.objects.create(owner=owner, kind="continue", input_file="")
    seed = _seed_midi()
    storage.save_bytes(f"{services.job_folder(job.id)}/input.mid", seed)
    job.input_file = f"{services.job_folder(job.id)}/input.mid"
    assert _keys(client, f"jobs/{job.id}/") == {f"jobs/{job.id}/input.mid"}
    settings.MEDIA_ROOT = settings.MEDIA_ROOT.parent / "worker-side"
    local = services.job_input_path(job)
    assert local is not None and local.read_bytes() == seed
    assert "staging" in local.parts
    job.input_file = "tracks/1/elsewhere.mid"  # a row pointing anywhere else reads nothing
    assert services.job_input_path(job) is None
    services.fail_job(job_id=job.id, message="test over")  # removes its objects too
    from tests.jobs_fixtures import wait_for

    wait_for(lambda: not _keys(client, f"jobs/{job.id}/"), 10, "the upload to be removed")


def test_a_job_runs_through_the_bucket_with_no_shared_disk(owner, stranger, s3, worker_factory):
    client, env, worker_media = s3
    worker_factory(extra_env=env)
    job = services.submit_job(user=owner, kind="compose", params={"bars": 2})
    job = wait_done(job.id, 300)  # a busy test machine renders slowly
    track = Track.objects.get(job=job)
    stored = _keys(client, f"tracks/{track.id}/")
    for value in track.files.values():
        for name in value if isinstance(value, list) else [value]:
            assert name in stored
    # neither side kept a copy outside its staging area
    from django.conf import settings

    assert _no_files_under(settings.MEDIA_ROOT) == []
    assert _no_files_under(worker_media) == []

    # the owner's download: checked here, then a signed URL that expires in a minute
    owner_api = api(owner)
    response = owner_api.get(f"/api/tracks/{track.id}/files/audio")
    assert response.status_code == 302
    url = response["Location"]
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert query["X-Amz-Expires"] == ["60"]
    whole = client.get_object(Bucket=BUCKET, Key=track.files["audio"])["Body"].read()
    request = urllib.request.Request(url, headers={"Range": "bytes=100-299"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 206
        assert answer.headers["Content-Range"] == f"bytes 100-299/{len(whole)}"
        assert answer.read() == whole[100:300]
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers["Content-Type"] == "audio/mpeg"
        assert "filename=" in answer.headers["Content-Disposition"]
    # without the signature the bucket answers 403: it is private
    bare = url.split("?", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bare, timeout=10)
    assert refused.value.code == 403

    # what the page fetches comes from the view itself (no CORS rule needed on the bucket)
    svg = owner_api.get(f"/api/tracks/{track.id}/files/svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content

    # a stranger gets no URL; once shared, the share link's file view gives one; once
    # the link is revoked, the old link gives nothing
    stranger_api = api(stranger)
    assert stranger_api.get(f"/api/tracks/{track.id}/files/audio").status_code == 404
    services.set_visibility(track_id=track.id, user=owner, visibility="unlisted")
    token = Track.objects.get(id=track.id).share_token
    assert stranger_api.get(f"/api/shared/{token}/files/midi").status_code == 302
    services.new_share_link(track_id=track.id, user=owner)
    assert stranger_api.get(f"/api/shared/{token}/files/midi").status_code == 404

    # the track page reads the MIDI from the bucket too (the continue/transfer forms use it)
    from generation.files import track_file_bytes

    assert track_file_bytes(track, "midi")[:4] == b"MThd"

    services.delete_track(track_id=track.id, user=owner)
    assert _keys(client, f"tracks/{track.id}/") == set()


def test_an_object_missing_from_the_bucket_is_a_404_not_a_dead_link(owner, s3):
    client, _env, _media = s3
    track = Track.objects.create(owner=owner, title="gone",
                                 files={"midi": "tracks/999999/track.mid"})
    assert api(owner).get(f"/api/tracks/{track.id}/files/midi").status_code == 404


def test_blind_listening_clips_come_from_the_bucket_through_the_view(owner, s3, client,
                                                                    settings):
    """References stored in the bucket reach a listener through the access-checked view,
    bytes and all (a redirect to a signed URL would show the object's key)."""
    from django.urls import reverse

    from studio import listening
    from studio.models import ListeningClip

    bucket, _env, _media = s3
    audio = {}
    for i in range(3):
        clip = ListeningClip.objects.create(kind=ListeningClip.Kind.REFERENCE,
                                            model_version="reference", task_kind="compose")
        clip.audio = f"listening/{clip.token}.mp3"
        clip.save(update_fields=["audio"])
        audio[clip.token] = b"ID3" + bytes([i]) * 2000
        storage.save_bytes(clip.audio, audio[clip.token])
    assert len(_keys(bucket, "listening/")) == 3
    session = listening.start_session(user=owner, singles=2, pairs=0)
    assert session.plan
    client.force_login(owner)
    served = 0
    for clip in ListeningClip.objects.filter(kind=ListeningClip.Kind.REFERENCE):
        response = client.get(reverse("studio:listen-audio", args=[clip.token]))
        in_plan = any(clip.id in (s.get("clip"), s.get("a"), s.get("b")) for s in session.plan)
        if not in_plan:
            assert response.status_code == 404
            continue
        assert response.status_code == 200 and "Location" not in response
        assert response.content == audio[clip.token]
        assert response["Content-Disposition"] == "inline"
        served += 1
    assert served >= 2
    assert not (Path(settings.MEDIA_ROOT) / "listening").exists()  # nothing on the web's disk
