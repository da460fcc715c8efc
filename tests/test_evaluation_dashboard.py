"""The evaluation dashboard: staff only, the figures from counted answers, strict CSP."""
from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from studio.models import BlindRating, ListeningClip, ListeningSession, PairwiseAnswer
from studio.services import rate_track

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user):
    user = make_user("curator")
    user.is_staff = True
    user.save()
    return user


def test_only_staff_read_the_dashboard(client, stranger, staff):
    url = reverse("studio:evaluation")
    assert client.get(url).status_code == 302  # to the log-in page
    client.force_login(stranger)
    r = client.get(url)
    assert r.status_code == 302 and "login" in r["Location"]
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_the_menu_leads_listeners_to_blind_listening_and_staff_to_the_dashboard(
    client, stranger, staff
):
    listen, dashboard = reverse("studio:listen"), reverse("studio:evaluation")
    home = client.get(reverse("studio:gallery")).content.decode()
    assert f'href="{listen}"' not in home and f'href="{dashboard}"' not in home
    client.force_login(stranger)
    page = client.get(reverse("studio:gallery")).content.decode()
    assert f'href="{listen}"' in page and f'href="{dashboard}"' not in page
    client.force_login(staff)
    page = client.get(listen).content.decode()
    assert f'href="{dashboard}"' in page
    assert re.search(rf'href="{listen}"\s+aria-current="page"', page)


def test_the_dashboard_counts_listeners_not_owners_or_careless_raters(
    client, staff, owner, make_user, make_track
):
    track = make_track(owner, visibility="public", parameters={"model": "v1"})
    rate_track(user=owner, track=track, overall=5, mood_match=5, style_match=5)  # not counted
    for name, score in (("a", 2), ("b", 3)):
        rate_track(user=make_user(name), track=track, overall=score, mood_match=3,
                   style_match=3)
    ref = ListeningClip.objects.create(kind="reference", model_version="reference",
                                       task_kind="compose")
    noise = ListeningClip.objects.create(kind="noise", model_version="noise", task_kind="check")
    gen = ListeningClip.objects.create(kind="generated", model_version="v1", task_kind="compose")
    careless = ListeningSession.objects.create(user=make_user("careless"))
    BlindRating.objects.create(session=careless, clip=noise, overall=5, mood_match=5,
                               style_match=5)
    BlindRating.objects.create(session=careless, clip=gen, overall=1, mood_match=1,
                               style_match=1)  # would pull v1 to 2.0: left out
    careful = ListeningSession.objects.create(user=make_user("careful"))
    BlindRating.objects.create(session=careful, clip=noise, overall=1, mood_match=1,
                               style_match=1)
    BlindRating.objects.create(session=careful, clip=ref, overall=4, mood_match=4,
                               style_match=4)
    PairwiseAnswer.objects.create(session=careful, clip_a=gen, clip_b=ref,
                                  more_musical="b", fits_mood="b")
    client.force_login(staff)
    html = client.get(reverse("studio:evaluation")).content.decode()
    row = re.search(r'<th scope="row">v1 · compose</th>(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[0] == "2" and cells[1] == "2"  # two ratings, two raters
    assert '<span class="estimate">2.50</span>' in cells[2]
    assert '<span class="estimate">-1.50</span>' in cells[5]  # 2.5 - 4.0
    assert "Counted: 3 raters" in html and "1 raters who failed" in html
    assert "1 ratings by owners" in html
    assert "Pairwise comparisons" in html and "v1 / Human references" in html
    assert "Bradley-Terry" in html and "<svg" in html


def test_the_dashboard_keeps_the_csp_strict_and_marks_demo_data(client, staff):
    call_command("demo_ratings", "--raters", "5", stdout=io.StringIO())
    client.force_login(staff)
    r = client.get(reverse("studio:evaluation"))
    html = r.content.decode()
    assert "demo data" in html
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    assert "unsafe-inline" not in r.headers.get("Content-Security-Policy", "")
    assert "v2 · compose" in html and "Human references" in html
    # the machine figures for the same versions sit beside the human ones
    assert "Machine figures for the same versions" in html and "<th scope=\"row\">v2</th>" in html


def test_staff_download_every_answer_as_csv(client, staff, stranger):
    call_command("demo_ratings", "--raters", "3", stdout=io.StringIO())
    url = reverse("studio:evaluation-export")
    client.force_login(stranger)
    assert client.get(url).status_code == 302
    client.force_login(staff)
    r = client.get(url)
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    lines = r.content.decode().splitlines()
    assert lines[0].startswith("answer,id,source,rater,")
    assert len(lines) - 1 == (BlindRating.objects.count() + PairwiseAnswer.objects.count()
                              + 6)  # two track-page demo ratings per rater
    assert "demo-rater" not in r.content.decode()


def test_the_machine_figures_are_read_from_the_v2_evaluation_report():
    from generation.ml import compose_v2, engines
    from studio.evaluation import objective_figures

    assert engines.EVALUATION_REPORT == compose_v2.DEFAULT_CHECKPOINT / "EVALUATION.json"
    figures = {row["version"]: row for row in objective_figures()}
    assert set(figures) == {"v1", "v2"}
    assert 0.5 <= figures["v1"]["two_sample"] <= 1 and 0 <= figures["v2"]["control"] <= 1
    assert objective_figures(engines.EVALUATION_REPORT.with_name("missing.json")) == []
