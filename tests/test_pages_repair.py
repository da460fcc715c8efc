"""The track page's repair forms (issue 15) through Django's test client: who sees them, what
a bad selection answers (the page again, with the message and the selection kept), and the
history and comparison of a repaired track. The browser test is test_browser_repair.py."""

from __future__ import annotations

import pytest
from django.test import Client

from generation.models import Job, Track

pytestmark = [pytest.mark.django_db]


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_owner_sees_the_repair_form_and_a_two_voice_track_says_what_the_model_writes(
    owner, make_track
):
    track = make_track(owner)  # a melody over a bass, 4 bars
    page = logged_in(owner).get(f"/tracks/{track.id}/").content.decode()
    assert 'id="repair-tools"' in page and 'data-bars="4"' in page
    assert 'id="repair-unsupported"' in page
    assert "rewrites pieces of 1 or 4 voices; this track has 2 voices" in page
    assert 'id="repair-form"' not in page


def test_strangers_see_no_repair_form_on_private_tracks_and_cannot_post_to_it(
    owner, stranger, make_track
):
    private = make_track(owner)
    other = logged_in(stranger)
    assert other.post(f"/tracks/{private.id}/infill/", {"start_bar": 1}).status_code == 404
    assert other.post(f"/tracks/{private.id}/harmonize/").status_code == 404
    public = make_track(owner, visibility="public")
    page = other.get(f"/tracks/{public.id}/").content.decode()
    assert 'id="repair-tools"' in page  # a public track may be remixed
    anonymous = Client().get(f"/tracks/{public.id}/").content.decode()
    assert 'id="repair-tools"' not in anonymous
    assert Job.objects.filter(owner=stranger).count() == 0


def test_a_bad_selection_comes_back_with_its_message_and_the_bars_typed(owner, make_track):
    track = make_track(owner)
    client = logged_in(owner)
    response = client.post(f"/tracks/{track.id}/infill/",
                           {"start_bar": "3", "end_bar": "9", "voices": ["1", "2"]},
                           follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/tracks/{track.id}/?bars=3-9#repair"
    assert "end_bar must be between 1 and 4." in page
    response = client.post(f"/tracks/{track.id}/infill/", {"start_bar": "2", "end_bar": "3"},
                           follow=True)
    assert "Choose at least one voice to rewrite." in response.content.decode()
    assert Job.objects.filter(kind="infill").count() == 0


def test_a_rewrite_is_queued_as_a_job_and_opens_its_progress_page(owner, stranger, make_track):
    public = make_track(owner, visibility="public")
    response = logged_in(stranger).post(
        f"/tracks/{public.id}/infill/", {"start_bar": "2", "end_bar": "3", "voices": ["2"]})
    job = Job.objects.get(owner=stranger, kind="infill")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}/"
    assert job.parameters["voices"] == [2] and job.parameters["change"] == (
        "bars 2-3 rewritten (voice 2)")
    assert job.parameters["source"]["id"] == public.id


def test_a_repaired_track_shows_its_history_and_the_comparison(owner, make_track):
    source = make_track(owner, title="Morning song")
    remix = make_track(owner, title="Morning song: bars 2-3 rewritten", kind="infill",
                       parameters={"start_bar": 2, "end_bar": 3, "voices": [],
                                   "change": "bars 2-3 rewritten",
                                   "source": {"id": source.id, "title": "Morning song",
                                              "owner": "owner"}})
    Track.objects.filter(id=remix.id).update(
        parent=source, files={**remix.files, "original_audio": remix.files["audio"]})
    page = logged_in(owner).get(f"/tracks/{remix.id}/").content.decode()
    assert 'data-rewritten="2-3"' in page
    assert f'<a href="/tracks/{source.id}/">Morning song</a>' in page
    assert "bars 2-3 rewritten" in page and 'id="compare"' in page
    assert "Play from bar 2" in page
    assert "A remix of" not in page  # the same owner: no remix credit
