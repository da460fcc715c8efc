"""Throw-away accounts and long jobs cannot take the studio from everyone else: sign-ups are
throttled per address, and each user's jobs get a daily budget of worker time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from generation import services
from generation.models import Job
from tests.conftest import PASSWORD
from tests.jobs_fixtures import api

pytestmark = pytest.mark.django_db


def _sign_up(client, username, address):
    return client.__class__().post("/accounts/signup/", {
        "username": username, "email": f"{username}@example.com",
        "password1": PASSWORD, "password2": PASSWORD}, REMOTE_ADDR=address)


def test_a_sign_up_flood_from_one_address_is_throttled(client, settings):
    settings.STUDIO_SIGNUPS_PER_IP = 3
    for i in range(3):
        assert _sign_up(client, f"throwaway{i}", "192.0.2.50").status_code == 302
    response = _sign_up(client, "throwaway3", "192.0.2.50")
    assert response.status_code == 429
    assert "Too many new accounts" in response.content.decode()
    assert not get_user_model().objects.filter(username="throwaway3").exists()
    # someone else is not affected
    assert _sign_up(client, "neighbour", "192.0.2.51").status_code == 302


def _worked(owner, seconds: float, *, ago: float = 5, status=Job.Status.DONE) -> Job:
    now = timezone.now()
    finished = None if status == Job.Status.RUNNING else now - timedelta(seconds=ago)
    end = finished or now
    return Job.objects.create(owner=owner, kind="compose", status=status,
                              started_at=end - timedelta(seconds=seconds), finished_at=finished)


def test_a_user_who_spent_the_daily_compute_budget_gets_a_clear_message(owner, settings):
    settings.STUDIO_DAILY_COMPUTE_SECONDS = 120
    _worked(owner, 70)
    _worked(owner, 40, status=Job.Status.FAILED)  # failed work was worker time too
    client = api(owner)
    body = {"kind": "compose", "bars": 2}
    assert client.post("/api/jobs/", body, content_type="application/json").status_code == 202
    Job.objects.filter(status=Job.Status.QUEUED).delete()
    _worked(owner, 15, status=Job.Status.RUNNING)  # a running job counts up to now
    assert services.compute_seconds_today(user=owner) >= 125
    response = client.post("/api/jobs/", body, content_type="application/json")
    assert response.status_code == 429
    message = response.json()["error"]
    assert "today's generation time" in message and "midnight UTC" in message
    assert not Job.objects.filter(owner=owner, status=Job.Status.QUEUED).exists()


def test_yesterdays_work_and_other_users_work_do_not_count(owner, stranger, settings):
    settings.STUDIO_DAILY_COMPUTE_SECONDS = 60
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    Job.objects.create(owner=owner, kind="compose", status=Job.Status.DONE,
                       started_at=midnight - timedelta(hours=3),
                       finished_at=midnight - timedelta(hours=1))
    _worked(stranger, 600)
    assert services.compute_seconds_today(user=owner) == 0
    response = api(owner).post("/api/jobs/", {"kind": "compose"}, content_type="application/json")
    assert response.status_code == 202
