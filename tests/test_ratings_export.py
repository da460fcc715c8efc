"""export_ratings prints every stored answer exactly once, pseudonymously; demo_ratings
fills a marked demo set and refuses a database with real ratings."""
from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from studio.export import COLUMNS
from studio.models import BlindRating, ListeningClip, ListeningSession, PairwiseAnswer, Rating
from studio.services import rate_track

pytestmark = pytest.mark.django_db


def _export(fmt: str = "csv") -> str:
    out = io.StringIO()
    call_command("export_ratings", "--format", fmt, stdout=out)
    return out.getvalue()


def _rows() -> list[dict]:
    return list(csv.DictReader(io.StringIO(_export())))


def test_an_empty_database_exports_the_header_alone():
    assert _export().splitlines() == [",".join(COLUMNS)]
    assert json.loads(_export("json")) == []


def _some_answers(owner, stranger, make_user, make_track):
    track = make_track(owner, visibility="public", parameters={"model": "v2"})
    rate_track(user=stranger, track=track, overall=4, mood_match=3, style_match=2)
    rate_track(user=owner, track=track, overall=5, mood_match=5, style_match=5)
    gen = ListeningClip.objects.create(kind="generated", track=track, model_version="v2",
                                       task_kind="compose", parameters={"model": "v2"})
    ref = ListeningClip.objects.create(kind="reference", model_version="reference",
                                       task_kind="compose")
    noise = ListeningClip.objects.create(kind="noise", model_version="noise", task_kind="check")
    careful, careless = make_user("careful"), make_user("careless")
    for user, noise_score in ((careful, 1), (careless, 5)):
        session = ListeningSession.objects.create(user=user)
        BlindRating.objects.create(session=session, clip=gen, overall=3, mood_match=3,
                                   style_match=3)
        BlindRating.objects.create(session=session, clip=ref, overall=4, mood_match=4,
                                   style_match=4)
        BlindRating.objects.create(session=session, clip=noise, overall=noise_score,
                                   mood_match=1, style_match=1)
        PairwiseAnswer.objects.create(session=session, clip_a=gen, clip_b=ref,
                                      more_musical="b", fits_mood="a")
    return track


def test_the_export_holds_every_stored_answer_exactly_once(owner, stranger, make_user,
                                                          make_track):
    _some_answers(owner, stranger, make_user, make_track)
    rows = _rows()
    stored = ({("rating", "track_page", r.id) for r in Rating.objects.all()}
              | {("rating", b.id) for b in BlindRating.objects.all()}
              | {("pairwise", p.id) for p in PairwiseAnswer.objects.all()})
    exported = [(r["answer"], r["source"], int(r["id"])) if r["source"] == "track_page"
                else (r["answer"], int(r["id"])) for r in rows]
    assert len(exported) == len(set(exported)) == len(stored) == 10
    assert set(exported) == stored
    by_source = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r)
    assert {s: len(v) for s, v in by_source.items()} == {
        "track_page": 2, "blind_single": 2, "reference": 2, "attention_check": 2,
        "blind_pairwise": 2}
    page = [r for r in rows if r["source"] == "track_page"]
    assert {r["owner_rating"] for r in page} == {"True", "False"}
    assert all(r["model_version"] == "v2" and r["task_kind"] == "compose" for r in page)
    assert json.loads(page[0]["parameters"])["model"] == "v2"
    pair = by_source["blind_pairwise"][0]
    assert (pair["model_version"], pair["other_model_version"]) == ("v2", "reference")
    assert (pair["more_musical"], pair["fits_mood"]) == ("b", "a")
    # the same set through JSON
    assert len(json.loads(_export("json"))) == 10


def test_raters_are_pseudonyms_stable_within_an_export_and_the_checks_are_reported(
    owner, stranger, make_user, make_track
):
    _some_answers(owner, stranger, make_user, make_track)
    rows = _rows()
    text = _export()
    for name in ("careful", "careless", "stranger", "owner"):
        assert name not in text.replace("owner_rating", "")
    careless = {r["rater"] for r in rows if r["source"] == "attention_check"
                and r["overall"] == "5"}
    assert len(careless) == 1
    outcome = {r["attention_check"] for r in rows if r["rater"] in careless}
    assert outcome == {"failed"}  # every answer of that rater carries the outcome
    careful = {r["rater"] for r in rows if r["source"] == "attention_check"
               and r["overall"] == "1"}
    assert {r["attention_check"] for r in rows if r["rater"] in careful} == {"passed"}
    assert {r["attention_check"] for r in rows if r["source"] == "track_page"} == {
        "not_checked"}
    # a fresh salt per export: the same person, another pseudonym
    assert not careless & {r["rater"] for r in _rows()}


def test_demo_ratings_fills_a_marked_set_and_replaces_it_on_a_second_run():
    out = io.StringIO()
    call_command("demo_ratings", "--raters", "6", stdout=out)
    assert "all marked is_demo" in out.getvalue()
    assert not Rating.objects.filter(is_demo=False).exists()
    assert ListeningSession.objects.filter(is_demo=True).count() == 6
    first = BlindRating.objects.count()
    assert first and PairwiseAnswer.objects.exists()
    call_command("demo_ratings", "--raters", "6", stdout=io.StringIO())
    assert BlindRating.objects.count() == first
    assert {r["is_demo"] for r in _rows()} == {"True"}


def test_demo_ratings_refuses_a_database_with_real_ratings(owner, stranger, make_track):
    track = make_track(owner, visibility="public")
    rate_track(user=stranger, track=track, overall=4, mood_match=3, style_match=2)
    with pytest.raises(CommandError, match="holds real ratings.*--force"):
        call_command("demo_ratings", stdout=io.StringIO())
    assert not ListeningSession.objects.exists() and Rating.objects.count() == 1
    call_command("demo_ratings", "--force", "--raters", "4", stdout=io.StringIO())
    assert Rating.objects.filter(is_demo=False).count() == 1  # the real one untouched
    assert ListeningSession.objects.filter(is_demo=True).count() == 4
