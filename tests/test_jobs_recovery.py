"""Nothing is lost when a worker dies, is told to stop, or Redis restarts: real worker
processes, the run's real Redis (or a private one the test restarts), shortened timings."""

from __future__ import annotations

import signal
import time

import pytest

from generation import services
from generation.models import Job, Track
from studio.processes import start_redis, stop_process
from tests.jobs_fixtures import (
    WORKER_TESTS,
    kill,
    use_fast_timings,
    wait_done,
    wait_for,
)

pytestmark = [*WORKER_TESTS, pytest.mark.usefixtures("fast_jobs")]


def job(job_id: int) -> Job:
    return Job.objects.get(id=job_id)


def wait_running(job_id: int, stage: str = "composing") -> None:
    wait_for(
        lambda: job(job_id).status == "running" and job(job_id).stage == stage,
        40,
        f"job {job_id} to be {stage}",
    )


def test_a_job_whose_worker_is_killed_finishes_exactly_once_on_another(owner, worker_factory):
    first = worker_factory(delay=30)  # the model step would take 30 s
    submitted = services.submit_job(user=owner, kind="compose", params={"bars": 2, "variants": 2})
    wait_running(submitted.id)
    assert job(submitted.id).worker_id.split("-")[-2] == str(first.pid)
    kill(first.pid)
    first.wait(10)
    second = worker_factory()
    done = wait_done(submitted.id)
    assert done.attempts == 2
    assert str(second.pid) in done.worker_id
    assert sorted(Track.objects.filter(job=done).values_list("variant", flat=True)) == [1, 2]
    assert "re-queued: worker" in second.log()


def test_sigterm_mid_job_requeues_it_and_the_next_worker_completes_it(owner, worker_factory):
    first = worker_factory(delay=30)
    submitted = services.submit_job(user=owner, kind="compose", params={"bars": 2})
    wait_running(submitted.id)
    first.signal(signal.SIGTERM)
    assert first.wait(15) == 0, first.log()  # a clean exit, promptly
    waiting = job(submitted.id)
    assert waiting.status == "queued" and waiting.attempts == 0, first.log()
    assert services.live_worker_count() == 0  # it took its heartbeat with it
    worker_factory()
    done = wait_done(submitted.id)
    assert done.attempts == 1 and Track.objects.filter(job=done).count() == 1


def test_a_redis_restart_mid_job_loses_nothing(owner, settings, worker_factory):
    proc, url = start_redis()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    try:
        use_fast_timings(settings, redis_url=url)
        worker = worker_factory(delay=3, redis_url=url)
        before = services.submit_job(user=owner, kind="compose", params={"bars": 2})
        wait_running(before.id)
        stop_process(proc)  # Redis goes away mid-job...
        during = services.submit_job(user=owner, kind="compose", params={"bars": 2})
        assert job(during.id).last_sent_at is None  # could not ring: stays queued
        time.sleep(1)
        proc, _ = start_redis(port)  # ...and comes back, empty
        assert wait_done(before.id).attempts == 1  # the running job was saved
        # runworker's receive loop ends on the lost connection: the process exits once its
        # job is saved and supervisord starts it again (here the test plays supervisord)
        wait_for(
            lambda: worker.proc.poll() is not None or job(during.id).status == "done",
            20,
            "the worker to exit or to run the waiting job",
        )
        if worker.proc.poll() is not None:
            worker_factory(redis_url=url)
        assert wait_done(during.id).attempts == 1
        after = services.submit_job(user=owner, kind="compose", params={"bars": 2})
        assert wait_done(after.id).attempts == 1
        assert Track.objects.count() == 3
    finally:
        stop_process(proc)
