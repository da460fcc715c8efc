"""Many submissions and claims at once, on the run's database (SQLite, and PostgreSQL when
``make test`` re-runs this file with STUDIO_TEST_DB=postgres): the per-user limit of active
jobs holds, and every queued job is claimed exactly once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from generation import services
from generation.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fast_jobs")]

THREADS = 8


def _at_once(work, count: int) -> list:
    """Run ``work(i)`` in ``count`` threads released together; each thread's result or
    exception, in order. Each thread has its own database connection, closed at its end."""
    gate = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            gate.wait(10)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test reads what each thread met
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_parallel_submissions_cannot_pass_the_active_job_limit_together(owner, settings):
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 3
    results = _at_once(
        lambda i: services.submit_job(user=owner, kind="compose", params={"bars": 1, "seed": i}),
        THREADS,
    )
    accepted = [r for r in results if isinstance(r, Job)]
    refused = [r for r in results if isinstance(r, services.QuotaExceeded)]
    assert len(accepted) == 3, results
    assert len(refused) == THREADS - 3, results
    assert "3 jobs waiting or running" in str(refused[0])
    assert Job.objects.filter(owner=owner, status__in=Job.ACTIVE).count() == 3


def test_workers_claiming_at_once_take_each_queued_job_exactly_once(owner, stranger, settings):
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 20
    for user in (owner, stranger):
        for i in range(6):
            services.submit_job(user=user, kind="compose", params={"bars": 1, "seed": i})

    def claim_all(i: int) -> list[int]:
        taken = []
        while (job := services.claim_next_job(worker_id=f"w{i}")) is not None:
            taken.append(job.id)
        return taken

    results = _at_once(claim_all, THREADS)
    assert not [r for r in results if isinstance(r, Exception)], results
    claims = Counter(job_id for taken in results for job_id in taken)
    queued_ids = set(Job.objects.values_list("id", flat=True))
    assert set(claims) == queued_ids  # every job was taken ...
    assert set(claims.values()) == {1}  # ... by exactly one worker
    jobs = list(Job.objects.all())
    assert {j.status for j in jobs} == {"running"}
    assert {j.attempts for j in jobs} == {1}
    for taken, i in zip(results, range(THREADS), strict=True):
        assert all(Job.objects.get(id=j).worker_id == f"w{i}" for j in taken)


def test_an_idle_worker_takes_the_fairest_queued_job_whatever_the_doorbell_said(owner, stranger):
    first = services.submit_job(user=owner, kind="compose", params={"bars": 1})
    theirs = services.submit_job(user=stranger, kind="compose", params={"bars": 1})
    assert services.claim_next_job(worker_id="w").id == first.id
    assert services.claim_next_job(worker_id="w").id == theirs.id
    assert services.claim_next_job(worker_id="w") is None
