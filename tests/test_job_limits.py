"""A stuck or greedy job cannot hold a worker (issue 17): each job's work runs in the worker's
job child, under a wall deadline (STUDIO_JOB_DEADLINE_SECONDS) and an address-space cap
(STUDIO_JOB_MEMORY_MB); past either the job fails with a plain message, the child is
replaced, and the same worker takes the next job. Real ``runworker`` processes; the test
composer (tests/jobs_engine.py) hangs or hoards memory for one chosen style only."""

from __future__ import annotations

import time

import pytest

from generation import services
from generation.consumers import WorkerRuntime
from generation.job_process import OUT_OF_MEMORY_MESSAGE
from generation.models import Job, Track
from tests.jobs_fixtures import job_status, wait_done, wait_for

BAD, GOOD = "celtic", "german_folk"
# the shortened stale limit (3 s) re-queues a job whose worker two busy cores starve for a
# few seconds; these tests are about the deadline, so the worker's recovery is patient
PATIENT = {"STUDIO_STALE_WORKER_SECONDS": "60"}


def _ended(job_id: int, seconds: float) -> Job:
    wait_for(lambda: job_status(job_id) in Job.FINAL, seconds, f"job {job_id} to end")
    return Job.objects.get(id=job_id)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fast_jobs")
def test_a_job_that_sleeps_forever_fails_at_its_deadline_and_the_worker_takes_the_next(
        owner, worker_factory):
    # the deadline binds every job of the worker: long enough for the good job's rendering on
    # two cores starved by training (a few seconds on an idle machine; 60-100 s seen here)
    deadline = 120
    worker = worker_factory(extra_env={**PATIENT, "STUDIO_JOB_DEADLINE_SECONDS": str(deadline),
                                       "STUDIO_TEST_ENGINE_HANG_STYLE": BAD})
    stuck = services.submit_job(user=owner, kind="compose", params={"bars": 2, "style": BAD})
    after = services.submit_job(user=owner, kind="compose", params={"bars": 2, "style": GOOD})
    stuck = _ended(stuck.id, 600)
    assert stuck.status == "failed", stuck.error
    assert stuck.error.startswith("This job ran past its time limit of 2 minutes")
    assert (stuck.finished_at - stuck.started_at).total_seconds() >= deadline
    # the child was killed and replaced: a new job process started after the deadline
    assert worker.log().count("job child") >= 2 and "past its deadline" in worker.log()
    assert stuck.attempts == 1 and not Track.objects.filter(job=stuck).exists()
    # the same worker process (its heartbeat beat all along) takes the next job
    done = wait_done(after.id, 600)
    assert done.worker_id == stuck.worker_id and worker.proc.poll() is None
    assert Track.objects.filter(job=done).count() == 1
    time.sleep(3)  # recovery passes later, the stuck job was not re-queued
    assert job_status(stuck.id) == "failed"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fast_jobs")
def test_a_job_that_allocates_past_the_cap_fails_cleanly_and_the_worker_goes_on(
        owner, worker_factory):
    worker = worker_factory(extra_env={**PATIENT, "STUDIO_JOB_MEMORY_MB": "2048",
                                       "STUDIO_TEST_ENGINE_GREEDY_STYLE": BAD})
    greedy = services.submit_job(user=owner, kind="compose", params={"bars": 2, "style": BAD})
    after = services.submit_job(user=owner, kind="compose", params={"bars": 2, "style": GOOD})
    greedy = _ended(greedy.id, 600)
    assert greedy.status == "failed" and greedy.error == OUT_OF_MEMORY_MESSAGE
    assert not Track.objects.filter(job=greedy).exists()
    done = wait_done(after.id, 600)
    assert done.worker_id == greedy.worker_id and worker.proc.poll() is None


def test_the_heartbeat_stops_vouching_for_a_job_past_its_deadline(settings):
    """The worker beats while alive; a job's own heartbeat only while it is within its
    deadline plus a grace, so a job the worker could not stop is recovered as stale."""
    settings.STUDIO_JOB_DEADLINE_SECONDS = 60
    settings.STUDIO_STALE_WORKER_SECONDS = 10
    runtime = WorkerRuntime()  # not started: no thread, no child
    assert runtime._live_job(None) is None
    runtime.job_started = time.monotonic() - 50
    assert runtime._live_job(7) == 7
    runtime.job_started = time.monotonic() - (60 + 2 * 10 + 1)
    assert runtime._live_job(7) is None
