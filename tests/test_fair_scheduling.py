"""Workers share out their time fairly: a free worker takes the oldest job of the user who
has had the least worker time lately, so two users with full queues cannot keep a third
user's job waiting behind all of theirs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from generation import services
from generation.models import Job

pytestmark = pytest.mark.django_db


def _queue(user, n: int, start) -> list[Job]:
    jobs = []
    for i in range(n):
        job = Job.objects.create(owner=user, kind="compose", status=Job.Status.QUEUED)
        Job.objects.filter(id=job.id).update(created_at=start + timedelta(seconds=i))
        jobs.append(job)
    return jobs


def _serve_in_doorbell_order(doorbells: list[int], seconds_each: float = 30) -> list[int]:
    """One worker answers each doorbell in turn and works ``seconds_each`` on what it took;
    returns the ids of the jobs in the order they ran."""
    ran = []
    for rung in doorbells:
        job = services.claim_fair_job(rung_job_id=rung, worker_id="w")
        if job is None:
            continue
        ran.append(job.id)
        now = timezone.now()
        Job.objects.filter(id=job.id).update(
            status=Job.Status.DONE, started_at=now - timedelta(seconds=seconds_each),
            finished_at=now)
    return ran


def test_two_busy_users_do_not_keep_a_third_users_job_waiting(make_user):
    first, second, third = make_user("first"), make_user("second"), make_user("third")
    start = timezone.now() - timedelta(minutes=5)
    a = _queue(first, 3, start)
    b = _queue(second, 3, start + timedelta(seconds=10))
    c = _queue(third, 1, start + timedelta(seconds=20))
    doorbells = [j.id for j in a + b + c]  # rung in the order the jobs came

    ran = _serve_in_doorbell_order(doorbells)

    assert sorted(ran) == sorted(doorbells)  # every job ran once
    assert ran.index(c[0].id) <= 2  # not behind all six of theirs
    assert ran[:3] == [a[0].id, b[0].id, c[0].id]
    # each user's own jobs keep their order
    for own in (a, b):
        assert [j for j in ran if j in {x.id for x in own}] == [x.id for x in own]


def test_a_user_who_just_had_a_long_job_waits_behind_one_who_had_none(make_user):
    heavy, light = make_user("heavy"), make_user("light")
    now = timezone.now()
    Job.objects.create(owner=heavy, kind="compose", status=Job.Status.DONE,
                       started_at=now - timedelta(minutes=20),
                       finished_at=now - timedelta(minutes=5))
    early = _queue(heavy, 1, now - timedelta(minutes=3))[0]
    late = _queue(light, 1, now - timedelta(minutes=1))[0]
    assert services.next_fair_job_id() == late.id
    job = services.claim_fair_job(rung_job_id=early.id, worker_id="w")
    assert job.id == late.id
    assert Job.objects.get(id=early.id).status == Job.Status.QUEUED  # it keeps its place


def test_a_doorbell_for_a_finished_job_takes_nothing_when_the_queue_is_empty(owner):
    job = Job.objects.create(owner=owner, kind="compose", status=Job.Status.DONE)
    assert services.claim_fair_job(rung_job_id=job.id, worker_id="w") is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_answers_a_doorbell_with_the_fairest_job(make_user, settings):
    from generation.consumers import WorkerRuntime

    settings.STUDIO_COMPOSE_MODULE = "tests.jobs_engine"
    settings.STUDIO_TEST_FAST_ENGINE = True
    busy, patient = make_user("busy"), make_user("patient")
    first = services.submit_job(user=busy, kind="compose", params={"bars": 2})
    second = services.submit_job(user=busy, kind="compose", params={"bars": 2})
    theirs = services.submit_job(user=patient, kind="compose", params={"bars": 2})
    runtime = WorkerRuntime()  # not started: no heartbeat thread, no signal handlers
    for doorbell in (first.id, second.id, theirs.id):
        assert runtime.run_job(doorbell) == "done"
    order = list(Job.objects.order_by("started_at").values_list("id", flat=True))
    assert order == [first.id, theirs.id, second.id]
