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
