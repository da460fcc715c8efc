"""/healthz answers 200 with a real Redis round trip, 503 when Redis is down."""

import pytest
from channels.layers import channel_layers


@pytest.mark.django_db
def test_healthz_is_ok_with_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] is True and body["channel_layer"] is True
    assert isinstance(body["workers"], int)


@pytest.mark.django_db
def test_healthz_is_503_when_redis_goes_down(client, settings, spare_redis):
    proc, url = spare_redis
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": url, "socket_timeout": None}]},
    }}
    channel_layers.backends.clear()
    try:
        assert client.get("/healthz").status_code == 200
        proc.kill()
        proc.wait(5)
        channel_layers.backends.clear()
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["channel_layer"] is False
        assert response.json()["database"] is True
    finally:
        channel_layers.backends.clear()
