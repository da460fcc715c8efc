"""Share links can be revoked for good: a track that becomes unlisted again gets a new link,
and its owner can replace the link at any time ("New link" on the track page)."""
# ruff: noqa: F811 - the fixtures imported from tests.studio_fixtures are test arguments

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from generation.models import Track
from tests.studio_fixtures import make_track, rendered_variant  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _opens(token: str) -> set[int]:
    """What a visitor holding the link gets: the page, the API, a file."""
    visitor = Client()
    return {
        visitor.get(reverse("studio:shared", args=[token])).status_code,
        visitor.get(reverse("generation:api-shared", args=[token])).status_code,
        visitor.get(reverse("generation:api-shared-file", args=[token, "midi"])).status_code,
    }


def _set(client, track, visibility):
    response = client.post(reverse("studio:track-visibility", args=[track.id]),
                           {"visibility": visibility})
    assert response.status_code == 302
    track.refresh_from_db()
    return track.share_token


@pytest.mark.parametrize("between", ["private", "public"])
def test_a_link_given_out_once_stays_dead_when_the_track_is_unlisted_again(
        client, owner, make_track, between):
    track = make_track(owner, visibility="private")
    client.force_login(owner)
    first = _set(client, track, "unlisted")
    assert _opens(first) == {200}
    _set(client, track, between)
    second = _set(client, track, "unlisted")
    assert second != first
    assert _opens(first) == {404}
    assert _opens(second) == {200}
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert f"/s/{second}/" in html and f"/s/{first}/" not in html


def test_saving_the_same_visibility_keeps_the_link(client, owner, make_track):
    track = make_track(owner, visibility="unlisted")
    client.force_login(owner)
    token = track.share_token
    assert _set(client, track, "unlisted") == token
    assert _opens(token) == {200}


def test_the_owner_replaces_the_link_and_the_old_one_stops_working(client, owner, make_track):
    track = make_track(owner, visibility="unlisted")
    old = track.share_token
    client.force_login(owner)
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert reverse("studio:track-new-link", args=[track.id]) in html
    response = client.post(reverse("studio:track-new-link", args=[track.id]))
    assert response.status_code == 302
    assert response["Location"].endswith("#sharing")
    track.refresh_from_db()
    assert track.share_token != old and track.visibility == "unlisted"
    assert _opens(old) == {404}
    assert _opens(track.share_token) == {200}


def test_only_the_owner_makes_a_new_link_and_only_by_a_post_with_csrf(
        client, owner, stranger, make_track):
    track = make_track(owner, visibility="unlisted")
    token = track.share_token
    url = reverse("studio:track-new-link", args=[track.id])
    assert Client().post(url).status_code == 302  # to the login page
    client.force_login(stranger)
    assert client.post(url).status_code == 404
    client.force_login(owner)
    assert client.get(url).status_code == 405
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(owner)
    assert checked.post(url).status_code == 403
    assert Track.objects.get(id=track.id).share_token == token
