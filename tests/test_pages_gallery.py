"""The gallery (newest, top rated, paginated), reports and the staff view that hides them."""
from __future__ import annotations

import pytest
from django.urls import reverse

from studio.models import Report, TrackModeration
from studio.selectors import GALLERY_PAGE_SIZE
from studio.services import rate_track

pytestmark = pytest.mark.django_db


def test_the_empty_gallery_says_so_in_both_orders(client):
    assert "No public tracks yet." in client.get(reverse("studio:gallery")).content.decode()
    top = client.get(reverse("studio:gallery") + "?order=top").content.decode()
    assert "No track has 3 ratings yet." in top


def test_the_gallery_shows_only_public_visible_tracks_newest_first(client, owner, make_track):
    make_track(owner, title="Old public", visibility="public")
    make_track(owner, title="Unlisted one", visibility="unlisted")
    make_track(owner, title="Private one")
    hidden = make_track(owner, title="Hidden one", visibility="public")
    hidden.hidden = True
    hidden.save()
    make_track(owner, title="New public", visibility="public")
    html = client.get(reverse("studio:gallery")).content.decode()
    assert "Unlisted one" not in html and "Private one" not in html
    assert "Hidden one" not in html
    assert html.index("New public") < html.index("Old public")


def test_top_rated_needs_three_ratings_and_orders_by_mean(client, owner, make_user, make_track):
    good = make_track(owner, title="Good one", visibility="public")
    great = make_track(owner, title="Great one", visibility="public")
    few = make_track(owner, title="Few ratings", visibility="public")
    listeners = [make_user(f"l{i}") for i in range(3)]
    for user in listeners:
        rate_track(user=user, track=good, overall=3, mood_match=3, style_match=3)
        rate_track(user=user, track=great, overall=5, mood_match=4, style_match=4)
    rate_track(user=listeners[0], track=few, overall=5, mood_match=5, style_match=5)
    html = client.get(reverse("studio:gallery") + "?order=top").content.decode()
    assert "Few ratings" not in html
    assert html.index("Great one") < html.index("Good one")
    assert "★ 5.0 / 5 from 3 ratings" in html


def test_the_gallery_is_paginated(client, owner, make_track):
    for i in range(GALLERY_PAGE_SIZE + 1):
        make_track(owner, title=f"Piece {i:02d}", visibility="public")
    first = client.get(reverse("studio:gallery")).content.decode()
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Piece 00" not in first  # the oldest is on page two
    second = client.get(reverse("studio:gallery") + "?page=2").content.decode()
    assert "Piece 00" in second and 'rel="prev"' in second


def test_a_listener_reports_a_public_track_and_staff_hide_it(
    client, owner, stranger, make_user, make_track
):
    track = make_track(owner, title="Noisy thing", visibility="public")
    client.force_login(stranger)
    gallery = client.get(reverse("studio:gallery")).content.decode()
    assert reverse("studio:track-report", args=[track.id]) in gallery
    r = client.post(reverse("studio:track-report", args=[track.id]), {"reason": "just noise"})
    assert r.status_code == 302
    report = Report.objects.get()
    assert report.reporter == stranger and report.reason == "just noise" and not report.resolved
    # a second report by the same person updates the first
    client.post(reverse("studio:track-report", args=[track.id]), {"reason": "really noise"})
    assert Report.objects.get().reason == "really noise"

    # the moderation page is staff-only
    assert client.get(reverse("studio:moderation")).status_code == 302
    staff = make_user("mod")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    html = client.get(reverse("studio:moderation")).content.decode()
    assert "Noisy thing" in html and "really noise" in html
    client.post(reverse("studio:moderation-action", args=[track.id]), {"action": "hide"})
    track.refresh_from_db()
    assert track.hidden and TrackModeration.objects.get(track=track).hidden_by == staff
    assert Report.objects.get().resolved
    client.logout()
    assert "Noisy thing" not in client.get(reverse("studio:gallery")).content.decode()
    assert client.get(reverse("studio:track", args=[track.id])).status_code == 404
    client.force_login(staff)
    client.post(reverse("studio:moderation-action", args=[track.id]), {"action": "show"})
    client.logout()
    assert "Noisy thing" in client.get(reverse("studio:gallery")).content.decode()


def test_owners_cannot_report_their_own_track_and_private_tracks_cannot_be_reported(
    client, owner, stranger, make_track
):
    public = make_track(owner, visibility="public")
    private = make_track(owner)
    client.force_login(owner)
    client.post(reverse("studio:track-report", args=[public.id]), {"reason": "mine"})
    assert not Report.objects.exists()
    client.force_login(stranger)
    assert (
        client.post(reverse("studio:track-report", args=[private.id]), {"reason": "x"}).status_code
        == 404
    )
    assert not Report.objects.exists()


def test_staff_see_empty_states_when_nothing_is_reported_or_hidden(client, make_user):
    staff = make_user("mod")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    html = client.get(reverse("studio:moderation")).content.decode()
    assert "No open reports." in html and "No hidden tracks." in html


@pytest.mark.django_db
def test_a_hidden_public_track_is_gone_from_the_api_and_files_too(
    client, owner, stranger, make_user, make_track
):
    from generation.files import file_urls

    track = make_track(owner, title="Reported", visibility="public")
    urls = file_urls(track)
    pages = urls.pop("svg_pages") + urls.pop("svg_phone_pages")
    urls = [*urls.values(), *pages]
    assert len(urls) >= 6  # midi, musicxml, svg, timemap, audio, piano roll
    client.force_login(stranger)
    assert client.get(f"/api/tracks/{track.id}/").status_code == 200
    for url in urls:
        assert client.get(url).status_code == 200, url
    staff = make_user("mod")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    client.post(reverse("studio:moderation-action", args=[track.id]), {"action": "hide"})
    track.refresh_from_db()
    assert track.hidden is True
    client.force_login(stranger)
    assert client.get(f"/api/tracks/{track.id}/").status_code == 404
    assert client.get(reverse("studio:track", args=[track.id])).status_code == 404
    for url in urls:
        assert client.get(url).status_code == 404, url



@pytest.mark.django_db
def test_staff_open_a_hidden_track_on_its_page_and_in_the_api_but_no_private_track(
    client, owner, make_user, make_track
):
    """One rule for pages, API and files: what staff reach from the moderation page opens
    everywhere; nobody's private track opens for them."""
    hidden = make_track(owner, title="Hidden one", visibility="public")
    hidden.hidden = True
    hidden.save()
    private = make_track(owner, title="Diary")
    staff = make_user("mod")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get(reverse("studio:track", args=[hidden.id])).status_code == 200
    assert client.get(f"/api/tracks/{hidden.id}/").status_code == 200
    assert client.get(reverse("studio:track", args=[private.id])).status_code == 404
    assert client.get(f"/api/tracks/{private.id}/").status_code == 404
    html = client.get(reverse("studio:moderation")).content.decode()
    assert "Hidden one" in html and "Diary" not in html
