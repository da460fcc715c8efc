"""Jobs that do not simply succeed, on real ``runworker generation`` processes: a doorbell
that expired before any worker ran, a model out of memory, a cancellation mid-run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from generation import services
from generation.models import Job, Track
from tests.jobs_fixtures import (
    WORKER_TESTS,
    api,
    job_status,
    wait_done,
    wait_for,
)

pytestmark = [*WORKER_TESTS, pytest.mark.usefixtures("fast_jobs")]


def test_a_job_whose_message_expired_before_any_worker_ran_still_runs(owner, worker_factory):
    job = services.submit_job(user=owner, kind="compose", params={"bars": 2})
    job.refresh_from_db()
    assert job.last_sent_at is not None  # the doorbell was rung...
    time.sleep(3.5)  # ...and has expired (expiry 2 s), with no worker running
    worker = worker_factory()
    job = wait_done(job.id, 300)  # generous: rendering on two cores starved by training
    assert job.attempts == 1 and Track.objects.filter(job=job).count() == 1
    assert "'resent': 1" in worker.log()  # it ran because recovery rang again


def test_a_job_that_runs_out_of_memory_fails_once_with_a_message(owner, settings, worker_factory):
    worker_factory(fail="memory")
    job = services.submit_job(user=owner, kind="compose", params={"bars": 2})
    wait_for(lambda: job_status(job.id) in Job.FINAL, 300, "the job to end")
    time.sleep(3)  # several recovery passes later it has not been retried
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 1
    assert "out of memory" in job.error and "Traceback" not in job.error
    assert not Track.objects.filter(job=job).exists()
    assert not list((Path(settings.MEDIA_ROOT) / "staging").glob(f"job-{job.id}-*"))


def test_cancelling_a_running_job_stops_it_at_the_next_stage(owner, settings, worker_factory):
    worker = worker_factory(delay=3)
    client = api(owner)
    job_id = client.post("/api/jobs/", {"bars": 2}, content_type="application/json").json()["id"]
    wait_for(lambda: Job.objects.get(id=job_id).stage == "composing", 30, "the job to compose")
    response = client.post(f"/api/jobs/{job_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    wait_for(lambda: f"job {job_id}: stopped" in worker.log(), 30, "the worker to stop it")
    job = Job.objects.get(id=job_id)
    assert job.status == "cancelled" and not Track.objects.filter(job=job).exists()
    assert not list((Path(settings.MEDIA_ROOT) / "staging").glob(f"job-{job_id}-*"))
