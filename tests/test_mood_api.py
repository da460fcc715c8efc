"""`/api/mood/`: the mood reader over HTTP, for logged-in people only, rate limited."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from generation.ml.mood import MAX_MOOD_CHARS, interpret_mood
from studio import views_mood

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def url() -> str:
    return reverse("api-mood")


def test_the_endpoint_lives_at_api_mood():
    assert url() == "/api/mood/"


def test_it_reads_a_mood_from_a_get_query(owner_client):
    response = owner_client.get(url(), {"text": "stormy night at sea, restless"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body == interpret_mood("stormy night at sea, restless").to_dict()
    assert body["attributes"]["mode"] == "minor"


def test_it_reads_a_mood_from_a_json_post_and_keeps_chinese_unescaped(owner_client):
    response = owner_client.post(
        url(), data=json.dumps({"text": "江南小调，温婉悠扬"}), content_type="application/json"
    )
    assert response.status_code == 200
    assert "江南小调" in response.content.decode("utf-8")
    assert response.json()["style_hint"] == "chinese_folk"


def test_it_answers_401_json_to_strangers_who_are_not_logged_in(client):
    response = client.get(url(), {"text": "happy"})
    assert response.status_code == 401
    assert "Log in" in response.json()["error"]


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_MOOD_CHARS + 1), "1234"])
def test_it_answers_400_with_the_readers_message_for_unreadable_text(owner_client, text):
    response = owner_client.get(url(), {"text": text})
    assert response.status_code == 400
    assert response.json()["error"].startswith("Mood text")


def test_a_get_without_text_is_a_400(owner_client):
    assert owner_client.get(url()).status_code == 400


@pytest.mark.parametrize(
    "body", ["not json", json.dumps(["happy"]), json.dumps({"mood": "x"}), json.dumps({"text": 3})]
)
def test_a_malformed_post_body_is_a_400(owner_client, body):
    response = owner_client.post(url(), data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]


def test_other_methods_are_refused(owner_client):
    assert owner_client.put(url(), data="{}").status_code == 405


def test_it_rate_limits_each_user_per_minute(owner_client, client, stranger, settings):
    settings.MOOD_RATE_LIMIT_PER_MINUTE = 3
    for _ in range(3):
        assert owner_client.get(url(), {"text": "calm"}).status_code == 200
    response = owner_client.get(url(), {"text": "calm"})
    assert response.status_code == 429
    assert "Too many" in response.json()["error"]
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another person has their own allowance.
    client.logout()
    client.force_login(stranger)
    assert client.get(url(), {"text": "calm"}).status_code == 200


def test_the_rate_window_is_fixed_and_resets_on_the_minute(owner, settings):
    settings.MOOD_RATE_LIMIT_PER_MINUTE = 2
    start = 1_000_020.0  # 0 s into a minute window (1_000_020 = 16_667 * 60)
    assert views_mood.over_rate_limit(owner.pk, now=start) == 0
    assert views_mood.over_rate_limit(owner.pk, now=start + 10) == 0
    assert views_mood.over_rate_limit(owner.pk, now=start + 20) == 40
    assert views_mood.over_rate_limit(owner.pk, now=start + 60) == 0  # the next window


def test_the_limit_fails_open_when_the_cache_is_down(owner, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(views_mood.cache, "add", broken)
    assert views_mood.over_rate_limit(owner.pk) == 0


def test_a_post_without_the_csrf_token_is_refused(owner):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    response = strict.post(
        url(), data=json.dumps({"text": "calm"}), content_type="application/json"
    )
    assert response.status_code == 403


def test_an_api_token_reads_moods_and_a_refused_csrf_post_answers_json(owner):
    from django.test import Client

    from tests.jobs_fixtures import api

    r = api(owner).post(url(), data='{"text": "stormy night"}', content_type="application/json")
    assert r.status_code == 200 and r.json()["attributes"]["mode"] in ("major", "minor")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    r = strict.post(url(), data='{"text": "calm"}', content_type="application/json")
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
