"""manage.py seed_examples: a new install's gallery fills through the normal job path."""
from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from generation.models import Job, Track
from generation.pipeline import styles

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fast_engine(settings):
    settings.STUDIO_COMPOSE_MODULE = "tests.jobs_engine"
    settings.STUDIO_TEST_FAST_ENGINE = True
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 10


def _run(*args) -> str:
    out = io.StringIO()
    call_command("seed_examples", *args, stdout=out)
    return out.getvalue()


def _work_off_the_queue():
    from generation.consumers import WorkerRuntime

    runtime = WorkerRuntime()  # not started: no heartbeat thread, no signal handlers
    while runtime.run_job() == "done":
        pass


def test_one_public_example_per_style_in_the_gallery_then_never_again(
        client, settings, fast_engine):
    assert "examples queued" in _run()
    jobs = Job.objects.filter(owner__username=settings.STUDIO_EXAMPLES_ACCOUNT)
    assert sorted(j.parameters["style"] for j in jobs) == sorted(styles())
    moods = [j.parameters["mood"] for j in jobs]
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in moods)  # Chinese too
    assert any(m.isascii() for m in moods)  # and English
    _work_off_the_queue()
    tracks = Track.objects.filter(owner__username=settings.STUDIO_EXAMPLES_ACCOUNT)
    assert tracks.count() == len(styles())
    assert all(t.visibility == "public" and t.is_example for t in tracks)
    page = client.get(reverse("studio:gallery")).content.decode()
    assert page.count("badge-example") == len(styles())
    assert "Example" in page
    # nobody can log in as the examples account
    assert not tracks[0].owner.has_usable_password()

    # a second start of the studio makes nothing more; asked plainly, it says why
    assert _run("--if-new") == ""
    assert "made before" in _run()
    assert Job.objects.filter(owner__username=settings.STUDIO_EXAMPLES_ACCOUNT).count() == len(
        styles())


def test_ordinary_tracks_are_not_examples_and_stay_private(owner, fast_engine):
    from generation import services

    services.submit_job(user=owner, kind="compose", params={"bars": 2})
    _work_off_the_queue()
    track = Track.objects.get(owner=owner)
    assert track.visibility == "private" and not track.is_example


def test_the_job_limit_holds_for_the_examples_account_too(settings, fast_engine):
    settings.STUDIO_MAX_ACTIVE_JOBS_PER_USER = 2
    with pytest.raises(CommandError, match="2 examples queued"):
        _run("--wait", "0")
    assert Job.objects.filter(owner__username=settings.STUDIO_EXAMPLES_ACCOUNT).count() == 2


def test_with_confirmed_email_required_the_examples_are_queued_all_the_same(settings,
                                                                            fast_engine):
    settings.STUDIO_REQUIRE_VERIFIED_EMAIL = True
    _run()
    assert Job.objects.filter(owner__username=settings.STUDIO_EXAMPLES_ACCOUNT).count() == len(
        styles())
