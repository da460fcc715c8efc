"""Requests that need Redis while it is down answer 503 "try again shortly", never 500."""

from __future__ import annotations

import json

import pytest
from axes.handlers.proxy import AxesProxyHandler

from studio.processes import free_port
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings):
    """The cache (log-in lockouts, rate limits) points at a port where nothing listens."""
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }}
    AxesProxyHandler.implementation = None  # axes keeps the cache it was first given
    yield
    AxesProxyHandler.implementation = None


def test_logging_in_while_redis_is_down_answers_try_again_shortly(client, owner, redis_down):
    response = client.post("/accounts/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 503
    assert response["Retry-After"].isdigit()
    assert "try again shortly" in response.content.decode()


def test_signing_up_while_redis_is_down_answers_try_again_shortly(client, redis_down):
    response = client.post("/accounts/signup/", {
        "username": "newcomer", "email": "newcomer@example.com",
        "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 503
    assert "try again shortly" in response.content.decode()


def test_under_api_the_outage_answer_is_json(rf):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from studio.middleware import RedisUnavailableMiddleware

    middleware = RedisUnavailableMiddleware(lambda request: None)
    response = middleware.process_exception(rf.get("/api/jobs/"), RedisConnectionError("down"))
    assert response.status_code == 503 and response["Retry-After"].isdigit()
    assert "try again shortly" in json.loads(response.content)["error"]
    assert middleware.process_exception(rf.get("/api/jobs/"), KeyError("x")) is None


def test_other_errors_are_not_disguised_as_an_outage(client, owner, settings):
    from studio.middleware import _redis_outage

    assert _redis_outage(ValueError("no")) is False
    try:
        try:
            raise ConnectionRefusedError
        except ConnectionRefusedError as inner:
            from redis.exceptions import ConnectionError as RedisConnectionError

            raise RuntimeError("wrapped") from RedisConnectionError(str(inner))
    except RuntimeError as outer:
        assert _redis_outage(outer) is True
