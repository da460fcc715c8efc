"""Ratings are evaluation data: one per listener per track even under simultaneous
submissions (the database says so, not only the code), they outlive their track with their
own copy of what it was made with, and owners' ratings of their own tracks do not count."""
from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, close_old_connections, connection
from django.urls import reverse

from generation import services as jobs
from studio import selectors
from studio.models import Rating
from studio.services import rate_track

SCORES = {"overall": 4, "mood_match": 3, "style_match": 5}


def _at_once(*calls):
    """Run the calls in threads released together; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test reads what happened
            results[i] = exc
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_ratings_by_one_listener_leave_one_row(owner, stranger, make_track):
    track = make_track(owner, visibility="public")
    first = {"overall": 5, "mood_match": 5, "style_match": 5}
    second = {"overall": 1, "mood_match": 1, "style_match": 1}
    results = _at_once(
        lambda: rate_track(user=stranger, track=track, **first),
        lambda: rate_track(user=stranger, track=track, **second),
    )
    assert not any(isinstance(r, Exception) for r in results), results
    rating = Rating.objects.get()  # exactly one row
    assert (rating.overall, rating.mood_match, rating.style_match) in {(5, 5, 5), (1, 1, 1)}


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_the_second_of_two_simultaneous_inserts(owner, stranger, make_track):
    """Two bare inserts at once (no get-or-create in front): the constraint refuses one."""
    track = make_track(owner, visibility="public")
    results = _at_once(
        lambda: Rating.objects.create(track=track, user=stranger, **SCORES),
        lambda: Rating.objects.create(track=track, user=stranger, **SCORES),
    )
    assert sum(isinstance(r, Rating) for r in results) == 1, results
    assert sum(isinstance(r, IntegrityError) for r in results) == 1, results
    assert Rating.objects.count() == 1


@pytest.mark.django_db
def test_a_rating_outlives_its_track_with_what_the_track_was_made_with(
    owner, stranger, make_track
):
    track = make_track(owner, visibility="public", parameters={"model": "v2"})
    rate_track(user=stranger, track=track, **SCORES)
    jobs.delete_track(track_id=track.id, user=owner)
    rating = Rating.objects.get()
    assert rating.track is None and rating.user == stranger
    assert rating.model_version == "test-model-1" and rating.task_kind == "compose"
    assert rating.parameters["model"] == "v2"
    assert rating.parameters["mood"] == "calm morning by the sea"
    assert rating.overall == 4


@pytest.mark.django_db
def test_ratings_outlive_the_owner_deleting_their_account(owner, stranger, make_track):
    from accounts.services import delete_account

    track = make_track(owner, visibility="public")
    rate_track(user=stranger, track=track, **SCORES)
    delete_account(user=owner)
    rating = Rating.objects.get()
    assert rating.track is None and rating.task_kind == "compose"


@pytest.mark.django_db
def test_the_owners_own_rating_is_left_out_of_the_averages(
    client, owner, make_user, make_track
):
    track = make_track(owner, visibility="public")
    rate_track(user=owner, track=track, overall=5, mood_match=5, style_match=5)
    for i, score in enumerate((2, 2)):
        rate_track(user=make_user(f"l{i}"), track=track, overall=score, mood_match=2,
                   style_match=2)
    summary = selectors.rating_summary(track)
    assert summary.count == 2 and not summary.shown  # the owner's is not a third
    rate_track(user=make_user("l2"), track=track, overall=2, mood_match=2, style_match=2)
    summary = selectors.rating_summary(track)
    assert summary.count == 3 and summary.overall == 2.0
    assert Rating.objects.filter(track=track).count() == 4  # kept all the same
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert "<dt>Overall</dt><dd>2.0 / 5</dd>" in html


@pytest.mark.django_db
def test_an_owner_rating_their_own_track_does_not_lift_it_in_the_gallery(
    owner, make_user, make_track
):
    self_rated = make_track(owner, visibility="public", title="Self rated")
    fairly_rated = make_track(owner, visibility="public", title="Fairly rated")
    listeners = [make_user(f"l{i}") for i in range(3)]
    for user, fair in zip(listeners, (3, 3, 4), strict=True):
        rate_track(user=user, track=self_rated, overall=3, mood_match=3, style_match=3)
        rate_track(user=user, track=fairly_rated, overall=fair, mood_match=3, style_match=3)
    # counted, the owner's 5 would make "Self rated" (3+3+3+5)/4 = 3.5, ahead of 3.33
    rate_track(user=owner, track=self_rated, overall=5, mood_match=5, style_match=5)
    page = selectors.gallery_page(order="top")
    rows = {t.title: (t.rating_count, round(t.rating_mean, 2)) for t in page.object_list}
    assert rows == {"Self rated": (3, 3.0), "Fairly rated": (3, 3.33)}
    assert [t.title for t in page.object_list] == ["Fairly rated", "Self rated"]
