"""Two real workers share twenty jobs: each job runs exactly once and both workers work."""

from __future__ import annotations

import pytest

from generation import services
from generation.models import Job, Track
from tests.jobs_fixtures import (
    WORKER_TESTS,
    wait_for,
)

pytestmark = [*WORKER_TESTS, pytest.mark.usefixtures("fast_jobs")]


def test_two_workers_run_twenty_jobs_each_exactly_once(owner, settings, worker_factory):
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 50
    workers = [worker_factory(), worker_factory()]
    jobs = [
        services.submit_job(user=owner, kind="compose", params={"bars": 1, "seed": i})
        for i in range(20)
    ]
    ids = [j.id for j in jobs]
    wait_for(
        lambda: Job.objects.filter(id__in=ids, status__in=Job.FINAL).count() == 20,
        150,
        "twenty jobs to end",
        every=0.5,
    )
    finished = list(Job.objects.filter(id__in=ids))
    assert {j.status for j in finished} == {"done"}
    assert [j.attempts for j in finished] == [1] * 20  # nobody ran a job twice
    assert Track.objects.filter(job_id__in=ids).count() == 20
    runners = {j.worker_id for j in finished}
    assert len(runners) == 2, runners  # both workers took work
    pids = {str(w.pid) for w in workers}
    assert {r.split("-")[-2] for r in runners} == pids


def test_a_busy_worker_leaves_the_next_jobs_to_an_idle_one(owner, settings, worker_factory):
    """While one worker runs a long job, every job submitted after it is done by the other,
    before the long job ends: a busy worker takes no doorbells (a doorbell it kept would
    leave its job waiting for the long one; recovery's re-ringing is pushed out of reach),
    and an idle one takes queued jobs from the database."""
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 10
    # no re-ringing; and no worker taken for dead while a busy machine starves its beats
    no_resend = {"STUDIO_RESEND_AFTER_SECONDS": "3600", "STUDIO_STALE_WORKER_SECONDS": "60"}
    slow = worker_factory(delay=600.0, extra_env=no_resend)
    long_job = services.submit_job(user=owner, kind="compose", params={"bars": 1})
    wait_for(lambda: Job.objects.get(id=long_job.id).status == "running", 180, "the long job")
    busy_id = Job.objects.get(id=long_job.id).worker_id
    idle = worker_factory(extra_env=no_resend)
    short = [
        services.submit_job(user=owner, kind="compose", params={"bars": 1, "seed": i})
        for i in range(4)
    ]
    ids = [j.id for j in short]
    wait_for(
        lambda: Job.objects.filter(id__in=ids, status__in=Job.FINAL).count() == 4
        or Job.objects.get(id=long_job.id).status != "running",
        300,
        "the short jobs (or the long one) to end",
        every=0.3,
    )
    assert Job.objects.get(id=long_job.id).status == "running", slow.log()
    done = list(Job.objects.filter(id__in=ids))
    assert {j.status for j in done} == {"done"}, idle.log()
    assert busy_id not in {j.worker_id for j in done}
    assert {j.worker_id.split("-")[-2] for j in done} == {str(idle.pid)}
