"""Ratings: one per listener per track, editable, with what the track was made with; averages
only from three ratings on; they outlive the listener's account."""
from __future__ import annotations

import re

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.services import delete_account
from studio.models import Rating
from studio.services import NotAllowed, rate_track

pytestmark = pytest.mark.django_db

SCORES = {"overall": 4, "mood_match": 3, "style_match": 5}


def test_a_listener_rates_a_public_track_and_edits_the_rating(client, owner, stranger, make_track):
    track = make_track(owner, visibility="public")
    client.force_login(stranger)
    r = client.post(
        reverse("studio:track-rate", args=[track.id]), {**SCORES, "comment": "lovely bass"}
    )
    assert r.status_code == 302
    rating = Rating.objects.get()
    assert (rating.overall, rating.mood_match, rating.style_match) == (4, 3, 5)
    assert rating.comment == "lovely bass"
    assert rating.model_version == "test-model-1" and rating.task_kind == "compose"
    assert rating.parameters["mood"] == "calm morning by the sea"
    assert rating.listener_owns_track is False
    page = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert "You rated this track" in page and "Update rating" in page
    # the form shows the listener's own scores, ready to be changed
    assert re.search(r'<input type="radio" name="overall" value="4"[^>]* checked>', page)
    assert re.search(r'<input type="radio" name="style_match" value="5"[^>]* checked>', page)
    assert not re.search(r'<input type="radio" name="overall" value="3"[^>]* checked>', page)
    client.post(
        reverse("studio:track-rate", args=[track.id]),
        {"overall": 2, "mood_match": 2, "style_match": 2, "comment": "changed my mind"},
    )
    assert Rating.objects.count() == 1
    rating.refresh_from_db()
    assert rating.overall == 2 and rating.comment == "changed my mind"
    assert rating.updated_at >= rating.created_at


def test_the_database_refuses_a_second_rating_by_the_same_listener(owner, stranger, make_track):
    track = make_track(owner, visibility="public")
    Rating.objects.create(track=track, user=stranger, **SCORES)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(track=track, user=stranger, **SCORES)


@pytest.mark.parametrize("bad", [0, 6, -1])
def test_the_database_refuses_scores_outside_one_to_five(owner, stranger, make_track, bad):
    track = make_track(owner, visibility="public")
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(track=track, user=stranger, **{**SCORES, "mood_match": bad})


def test_an_incomplete_rating_is_sent_back_with_the_error_next_to_the_axis(
    client, owner, stranger, make_track
):
    track = make_track(owner, visibility="public")
    client.force_login(stranger)
    r = client.post(reverse("studio:track-rate", args=[track.id]), {"overall": 4})
    assert r.status_code == 400
    assert "This field is required." in r.content.decode()
    assert not Rating.objects.exists()


def test_the_owner_may_rate_and_is_flagged_as_the_owner(owner, make_track):
    track = make_track(owner)
    rating = rate_track(user=owner, track=track, **SCORES)
    assert rating.listener_owns_track is True


def test_averages_appear_only_from_three_ratings(client, owner, make_user, make_track):
    track = make_track(owner, visibility="public")
    url = reverse("studio:track", args=[track.id])
    for i, score in enumerate((5, 4)):
        rate_track(
            user=make_user(f"listener{i}"), track=track, overall=score, mood_match=3, style_match=2
        )
    html = client.get(url).content.decode()
    assert "Averages appear once 3 people have rated this track (2 so far)." in html
    assert "4.5 / 5" not in html
    rate_track(user=make_user("listener2"), track=track, overall=3, mood_match=3, style_match=2)
    html = client.get(url).content.decode()
    assert "Averages appear once" not in html
    assert "<dt>Overall</dt><dd>4.0 / 5</dd>" in html
    assert "<dt>Mood match</dt><dd>3.0 / 5</dd>" in html
    assert "From 3 ratings." in html


def test_a_visitor_must_log_in_to_rate(client, owner, make_track):
    track = make_track(owner, visibility="public")
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert "to rate this track" in html and "Save rating" not in html
    r = client.post(reverse("studio:track-rate", args=[track.id]), SCORES)
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    assert not Rating.objects.exists()
    with pytest.raises(NotAllowed):
        from django.contrib.auth.models import AnonymousUser

        rate_track(user=AnonymousUser(), track=track, **SCORES)


def test_nobody_rates_a_track_they_cannot_see(client, owner, stranger, make_track):
    track = make_track(owner, visibility="unlisted")
    client.force_login(stranger)
    assert client.post(reverse("studio:track-rate", args=[track.id]), SCORES).status_code == 404
    # through the share link they can
    r = client.post(reverse("studio:shared-rate", args=[track.share_token]), SCORES)
    assert r.status_code == 302 and r["Location"].startswith(
        reverse("studio:shared", args=[track.share_token])
    )
    assert Rating.objects.filter(user=stranger).count() == 1


def test_ratings_stay_anonymous_when_the_listener_deletes_their_account(
    owner, stranger, make_track
):
    track = make_track(owner, visibility="public")
    rate_track(user=stranger, track=track, **SCORES)
    delete_account(user=stranger)  # the product's deletion path, not a bare row delete
    rating = Rating.objects.get()
    assert rating.user is None and rating.overall == 4
