"""The rough edges a newcomer hit, each kept fixed: where sign-up leads, the transfer form,
a hand-set tempo, rating comments and the thank-you, list players, the error pages."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_after_sign_up_the_visitor_lands_on_compose_with_an_example_mood(client):
    response = client.post(reverse("signup"), {
        "username": "newcomer", "email": "new@example.com",
        "password1": PASSWORD, "password2": PASSWORD,
    })
    assert response.status_code == 302
    url = urlparse(response["Location"])
    assert url.path == reverse("studio:compose")
    mood = parse_qs(url.query)["mood"][0]
    page = client.get(response["Location"]).content.decode()
    assert f"{mood}</textarea>" in page


def test_a_chinese_newcomer_gets_a_chinese_example_mood(client):
    response = client.post(reverse("signup"), {
        "username": "xiaoming", "email": "xm@example.com",
        "password1": PASSWORD, "password2": PASSWORD,
    }, HTTP_ACCEPT_LANGUAGE="zh-CN")
    mood = parse_qs(urlparse(response["Location"]).query)["mood"][0]
    assert mood == "海上暴风雨之夜，心绪不宁"


def test_the_compose_page_offers_example_moods_in_the_visitors_language(client, owner):
    client.force_login(owner)
    english = client.get(reverse("studio:compose")).content.decode()
    chinese = client.get(reverse("studio:compose"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'data-mood="calm sea at dawn"' in english
    assert 'data-mood="黎明时平静的大海"' in chinese
    assert "calm sea at dawn" not in chinese


def test_the_transfer_target_is_not_labelled_optional_and_says_what_is_missing(client, owner):
    client.force_login(owner)
    html = client.get(reverse("studio:compose")).content.decode()
    label = html.split('for="id_to_style"', 1)[1].split("</label>", 1)[0]
    assert "optional" not in label
    # the length field sits in a part the transfer way hides (a transfer keeps the seed's length)
    bars = html.split('id="id_bars"', 1)[0].rsplit("<div", 2)[-2]
    assert 'data-ways="compose continue"' in bars
    # the upload limit reaches the page's script, which refuses a bigger file before sending
    assert 'data-max-upload-bytes="' in html


def test_a_transfer_track_page_does_not_claim_a_length_it_ignored(
        client, owner, make_track, rendered_transfer_variant):
    track = make_track(owner, kind="transfer", rendered_with=rendered_transfer_variant,
                       parameters={"to_style": "celtic", "bars": 16, "source_style": "celtic",
                                   "input_summary": {"bars": 4}})
    client.force_login(owner)
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert "16 bars" not in html
    assert "4 bars" in html
    assert "already in this style" in html


def test_a_tempo_set_by_hand_is_not_contradicted_by_the_moods_tempo(client, owner, make_track):
    track = make_track(owner, parameters={
        "attributes": {"tempo_bpm": 120, "tempo_band": "fast"},
        "mood_attributes": {"mode": "minor", "tempo_bpm": 74.0, "tempo_band": "slow"},
    })
    client.force_login(owner)
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert "120 BPM" in html
    assert "74 BPM" not in html
    assert "Minor" in html  # the rest of the mood's reading is still shown


def test_the_owner_reads_rating_comments_and_the_public_does_not(
        client, owner, stranger, make_user, make_track):
    from studio.services import rate_track

    track = make_track(owner, visibility="public")
    rate_track(user=stranger, track=track, overall=4, mood_match=3, style_match=5,
               comment="Lovely cadence in bar 3")
    client.force_login(owner)
    assert "Lovely cadence in bar 3" in client.get(
        reverse("studio:track", args=[track.id])).content.decode()
    client.force_login(make_user("third"))
    assert "Lovely cadence in bar 3" not in client.get(
        reverse("studio:track", args=[track.id])).content.decode()


def test_after_rating_the_thank_you_is_inside_the_section_the_page_scrolls_to(
        client, owner, stranger, make_track):
    track = make_track(owner, visibility="public")
    client.force_login(stranger)
    response = client.post(reverse("studio:track-rate", args=[track.id]),
                           {"overall": 4, "mood_match": 4, "style_match": 4, "comment": ""})
    assert response["Location"].endswith("#rating-section")
    html = client.get(response["Location"].split("#")[0]).content.decode()
    section = html.split('id="rating-section"', 1)[1]
    top = html.split('id="rating-section"', 1)[0]
    assert "Thank you for rating." in section
    assert "Thank you for rating." not in top


def test_list_cards_have_a_player(client, owner, make_track):
    make_track(owner, visibility="public", title="Harbour lights")
    html = client.get(reverse("studio:gallery")).content.decode()
    assert '<audio controls preload="none"' in html
    assert 'aria-label="Play Harbour lights"' in html


@override_settings(DEBUG=False)
def test_a_missing_page_has_the_sites_look_in_both_languages(client):
    english = client.get("/no-such-page/")
    assert english.status_code == 404
    assert 'class="site-header"' in english.content.decode()
    assert "This page is not here" in english.content.decode()
    chinese = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "这个页面不存在" in chinese.content.decode()


def test_a_server_error_has_the_sites_look_in_both_languages(rf):
    from django.utils import translation
    from django.views.defaults import server_error

    for language, text in (("en", "Something went wrong on our side"),
                           ("zh-hans", "我们这边出了问题")):
        with translation.override(language):
            response = server_error(rf.get("/"))
        html = response.content.decode()
        assert response.status_code == 500
        assert 'class="site-header"' in html and text in html


def test_the_score_has_a_text_alternative_in_the_visitors_language(client, owner, make_track):
    track = make_track(owner, title="Morning song")
    client.force_login(owner)
    html = client.get(reverse("studio:track", args=[track.id])).content.decode()
    assert 'aria-describedby="score-summary"' in html
    assert "The score in words: “Morning song”, 4 bars, Major, 120 BPM, Chorale." in html
    chinese = client.get(reverse("studio:track", args=[track.id]),
                         HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "乐谱的文字描述：“Morning song”，4 小节、大调、120 BPM、合唱。" in chinese
