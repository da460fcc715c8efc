"""A listener's blind session and a staff member's dashboard, in headless Chromium."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from studio.models import BlindRating, ListeningSession, PairwiseAnswer
from tests.conftest import log_in, screenshot
from tests.listening_fixtures import SECRET_TITLE, fill_pool
from tests.test_browser_studio import _no_console_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent


def test_a_listener_does_a_blind_session_of_five_clips_one_of_them_a_pair(
    live_server, page, make_user, make_track, rendered_variant, monkeypatch
):
    from studio import listening

    fill_pool(make_user, make_track, rendered_variant, tracks=3)
    make_user("lena")
    # five steps: two clips alone, one pair, the attention check and the second hearing
    monkeypatch.setattr(listening, "SESSION_SINGLES", 2)
    monkeypatch.setattr(listening, "SESSION_PAIRS", 1)
    log_in(page, live_server.url, "lena")
    page.goto(live_server.url + "/listen/")
    page.get_by_role("button", name="Start listening").click()
    page.wait_for_url(live_server.url + "/listen/now/")
    pairs = 0
    for number in range(1, 6):
        assert page.get_by_text(f"Clip {number} of 5").is_visible()
        html = page.content()
        assert SECRET_TITLE not in html and "composer-zed" not in html
        players = page.locator("audio")
        # the clip plays: its duration is known once the audio has loaded
        first = players.first
        first.evaluate("a => { a.preload = 'auto'; a.load(); }")
        for _ in range(100):
            if first.evaluate("a => a.readyState") >= 1:
                break
            page.wait_for_timeout(100)
        assert first.evaluate("a => a.duration") > 1
        if players.count() == 2:
            pairs += 1
            screenshot(page, "listen-pair")
            page.get_by_role("group", name="Which is more musical?").get_by_label(
                "The second").check()
            page.get_by_role("group", name="Which fits its mood better?").get_by_label(
                "The first").check()
        else:
            for axis in ("How good is it as music?", "How clearly does it carry a mood?",
                         "How well does it hold one style?"):
                page.get_by_role("group", name=axis).get_by_label("4").check()
            if number < 3:
                screenshot(page, f"listen-single-{number}")
        page.get_by_role("button", name="Next").click()
        page.wait_for_load_state()
    page.wait_for_url(live_server.url + "/listen/done/")
    assert page.get_by_role("heading", name="Thank you").is_visible()
    assert pairs == 1
    session = ListeningSession.objects.get()
    assert session.finished_at is not None
    assert BlindRating.objects.count() == 4 and PairwiseAnswer.objects.count() == 1
    pair = PairwiseAnswer.objects.get()
    assert (pair.more_musical, pair.fits_mood) == ("b", "a")
    _no_console_errors(page)


def test_staff_read_the_dashboard_on_demo_data(live_server, page, make_user):
    call_command("demo_ratings", stdout=io.StringIO())
    curator = make_user("curator")
    curator.is_staff = True
    curator.save()
    log_in(page, live_server.url, "curator")
    page.goto(live_server.url + "/evaluation/", timeout=300_000)  # two busy cores
    assert page.get_by_role("heading", name="Evaluation", level=1).is_visible()
    assert page.get_by_text("This database holds demo data").is_visible()
    table = page.get_by_role("table", name="Ratings per model version and task")
    assert table.get_by_role("rowheader", name="v1 · compose").is_visible()
    assert table.get_by_role("rowheader", name="v2 · compose").is_visible()
    assert page.get_by_role("img", name="Mean overall score, 95% intervals").is_visible()
    assert page.get_by_role("img", name="Bradley-Terry log-strength, Which is more musical"
                            ).is_visible()
    path = screenshot(page, "evaluation-dashboard")
    docs = ROOT / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, docs / "evaluation-dashboard.png")
    _no_console_errors(page)
