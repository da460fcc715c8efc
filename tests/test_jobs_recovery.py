"""Nothing is lost when a worker dies, is told to stop, or Redis restarts: real worker
processes, the run's real Redis (or a private one the test restarts), shortened timings."""

from __future__ import annotations

import signal
import time
from pathlib import Path

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


def _track_folders(settings) -> set[str]:
    root = Path(settings.MEDIA_ROOT) / "tracks"
    return {p.name for p in root.iterdir()} if root.is_dir() else set()


def _assert_finished_once(job_id: int, variants: int, settings, folders_before: set[str]):
    """Done on the second attempt, one track per variant with every file, and no track
    folder under MEDIA_ROOT without its Track row."""
    from tests.track_checks import check_track_files

    done = wait_done(job_id, 180)  # generous: rendering again on two busy cores
    assert done.attempts == 2
    tracks = list(Track.objects.filter(job=done).order_by("variant"))
    assert [t.variant for t in tracks] == list(range(1, variants + 1))
    for track in tracks:
        check_track_files(track, bars=done.parameters["bars"])
    new_folders = _track_folders(settings) - folders_before
    assert new_folders <= {str(t.id) for t in tracks}, new_folders
    assert Track.objects.count() == variants


def test_a_worker_killed_while_rendering_leaves_no_track_and_another_finishes_once(
    owner, settings, worker_factory
):
    folders_before = _track_folders(settings)
    first = worker_factory()
    submitted = services.submit_job(
        user=owner, kind="compose", params={"bars": 8, "variants": 2, "seed": 3}
    )
    staging = Path(settings.MEDIA_ROOT) / "staging"
    # the first variant's MIDI is written: the worker is inside render_variant
    wait_for(
        lambda: list(staging.glob(f"job-{submitted.id}-*/variant-1/track.mid")),
        40, "the job to be rendering", every=0.02,
    )
    kill(first.pid)
    first.wait(10)
    killed = job(submitted.id)
    assert killed.status == "running" and killed.stage.startswith("writing the score")
    assert not Track.objects.exists()
    second = worker_factory()
    _assert_finished_once(submitted.id, 2, settings, folders_before)
    assert "re-queued: worker" in second.log()


def test_a_worker_killed_while_finishing_makes_no_half_set_of_tracks(
    owner, settings, worker_factory
):
    folders_before = _track_folders(settings)
    first = worker_factory(finish_delay=30)  # pauses after moving variant 1 into tracks/
    submitted = services.submit_job(
        user=owner, kind="compose", params={"bars": 2, "variants": 2, "seed": 4}
    )
    wait_for(
        lambda: _track_folders(settings) - folders_before, 60,
        "the first variant to be moved into tracks/", every=0.05,
    )
    kill(first.pid)
    first.wait(10)
    killed = job(submitted.id)
    # the transaction that makes the tracks and marks the job done never committed
    assert killed.status == "running" and killed.stage == "saving"
    assert not Track.objects.exists()
    # what the killed worker moved is not a track; mark it so that serving it would show
    orphans = _track_folders(settings) - folders_before
    for name in orphans:
        (Path(settings.MEDIA_ROOT) / "tracks" / name / "track.mid").write_bytes(b"stale")
    worker_factory()
    _assert_finished_once(submitted.id, 2, settings, folders_before)


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
        # job is saved (it may run a waiting job first) and supervisord starts it again; here
        # the test plays supervisord, for as long as it waits
        restarted = []

        def done_under_supervision(job_id: int) -> bool:
            if not restarted and worker.proc.poll() is not None:
                restarted.append(worker_factory(redis_url=url))
            return job(job_id).status == "done"

        wait_for(lambda: done_under_supervision(during.id), 240, "the waiting job to be done")
        assert job(during.id).attempts == 1
        after = services.submit_job(user=owner, kind="compose", params={"bars": 2})
        wait_for(lambda: done_under_supervision(after.id), 240, "the next job to be done")
        assert job(after.id).attempts == 1
        assert Track.objects.count() == 3
    finally:
        stop_process(proc)
