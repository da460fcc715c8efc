"""Smaller findings of the open-internet review (issue 17): the worker reads a job's input
only from the job's own folder; websockets may connect to this host only; a copy made from a
track that staff hid stays out of everyone else's sight."""
# ruff: noqa: F811 - the fixtures imported from tests.studio_fixtures are test arguments

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from generation import services
from generation.consumers import WorkerRuntime
from generation.models import Job, Track
from generation.music.notes import Note, Part, Piece, piece_to_midi_bytes
from studio.services import hide_track
from tests.studio_fixtures import _Variant, make_track, rendered_variant  # noqa: F401

pytestmark = [pytest.mark.django_db]


def _seed() -> bytes:
    notes = [Note(float(i), 60 + i % 5, 1.0, 80) for i in range(8)]
    return piece_to_midi_bytes(Piece(parts=[Part(notes=notes)], tempos=[(0.0, 100.0)]))


@pytest.mark.parametrize("where", ["absolute", "climbing", "another job's folder"])
def test_the_worker_reads_a_jobs_input_only_from_the_jobs_own_folder(
        owner, settings, tmp_path, where):
    settings.STUDIO_COMPOSE_MODULE = "tests.jobs_engine"
    settings.STUDIO_TEST_FAST_ENGINE = True
    job = services.submit_job(user=owner, kind="continue", params={"bars": 2},
                              midi_bytes=_seed())
    root = Path(settings.MEDIA_ROOT)
    # a perfectly readable MIDI file, somewhere the job's row should never lead
    outside = tmp_path / "elsewhere.mid"
    outside.write_bytes(_seed())
    other = root / "jobs" / str(job.id + 1000) / "input.mid"
    other.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(outside, other)
    pointer = {
        "absolute": str(outside),
        "climbing": f"jobs/{job.id}/../../{os.path.relpath(outside, root)}",
        "another job's folder": f"jobs/{job.id + 1000}/input.mid",
    }[where]
    Job.objects.filter(id=job.id).update(input_file=pointer)
    assert services.job_input_path(Job.objects.get(id=job.id)) is None

    assert WorkerRuntime().run_job(job.id) == "failed"
    job.refresh_from_db()
    assert job.error == "The uploaded MIDI file is missing."
    assert not Track.objects.filter(job_id=job.id).exists()


def test_the_jobs_own_upload_is_still_read(owner):
    job = services.submit_job(user=owner, kind="continue", params={"bars": 2},
                              midi_bytes=_seed())
    path = services.job_input_path(job)
    assert path is not None and path.read_bytes() == _seed()


def test_websockets_may_connect_to_this_host_only(client):
    csp = client.get("/").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
    assert directives["connect-src"] == "'self'"


def _finish(job: Job, rendered_variant, tmp_path) -> Track:
    """Finish ``job`` the way a worker does, with the session's rendered files."""
    source, rendered = rendered_variant
    assert services.claim_job(job_id=job.id, worker_id="w") is not None
    folder = tmp_path / f"stage-{job.id}"
    shutil.copytree(source, folder)
    variant = _Variant(1, folder, rendered["files"], "Copy", 8, "m", {},
                       rendered["duration_seconds"])
    return services.finish_job(job_id=job.id, worker_id="w", variants=[variant])[0]


@pytest.mark.parametrize("action", ["regenerate", "continue"])
def test_a_copy_of_a_hidden_track_stays_hidden(
        client, owner, stranger, make_user, make_track, rendered_variant, tmp_path, action,
        settings):
    settings.STUDIO_COMPOSE_MODULE = "tests.jobs_engine"
    staff = make_user("moderator")
    staff.is_staff = True
    staff.save()
    original = make_track(owner, visibility="public")
    hide_track(staff_user=staff, track_id=original.id)
    client.force_login(owner)
    response = client.post(reverse(f"studio:track-{action}", args=[original.id]))
    assert response.status_code == 302 and "/jobs/" in response["Location"], response
    job = Job.objects.exclude(id=original.job_id).get(owner=owner)
    copy = _finish(job, rendered_variant, tmp_path)
    assert copy.hidden is True
    # the owner publishes the copy: still nobody else's to see
    client.post(reverse("studio:track-visibility", args=[copy.id]), {"visibility": "public"})
    visitor = Client()
    visitor.force_login(stranger)
    assert visitor.get(reverse("studio:track", args=[copy.id])).status_code == 404
    assert copy.id not in [t.id for t in Track.objects.public()]
    assert client.get(reverse("studio:track", args=[copy.id])).status_code == 200


def test_a_copy_of_a_visible_track_is_not_hidden(
        client, owner, make_track, rendered_variant, tmp_path, settings):
    settings.STUDIO_COMPOSE_MODULE = "tests.jobs_engine"
    original = make_track(owner, visibility="public")
    client.force_login(owner)
    client.post(reverse("studio:track-regenerate", args=[original.id]))
    job = Job.objects.exclude(id=original.job_id).get(owner=owner)
    assert _finish(job, rendered_variant, tmp_path).hidden is False


def test_the_midi_parse_child_gets_a_minimal_environment(monkeypatch):
    """The parse child runs on untrusted bytes: it inherits PATH and locale, never the
    parent's secrets (issue 17)."""
    import subprocess

    from generation.music import validate

    seen = {}
    real_run = subprocess.run

    def spy(command, **kwargs):
        seen.update(kwargs.get("env") or {})
        return real_run(command, **kwargs)

    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "leak")
    monkeypatch.setattr(validate.subprocess, "run", spy)
    data = (validate.Path(__file__).parent / "data" / "valid_midi").glob("*.mid")
    validate.parse_in_child(next(iter(data)).read_bytes())
    assert "DJANGO_SECRET_KEY" not in seen and "AWS_SECRET_ACCESS_KEY" not in seen
    assert "PYTHONPATH" in seen and set(seen) <= set(validate.CHILD_ENV) | {
        "PYTHONPATH", "OPENBLAS_NUM_THREADS", "PYTHONWARNINGS"}
