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


@pytest.mark.django_db
def test_healthz_is_degraded_when_jobs_wait_and_no_worker_is_alive(client, owner):
    from django.utils import timezone

    from generation.models import Job, WorkerHeartbeat

    assert client.get("/healthz").json()["status"] == "ok"  # nothing waits: fine
    Job.objects.create(owner=owner, kind="compose", status=Job.Status.QUEUED)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["queued"] == 1 and response.json()["workers"] == 0
    WorkerHeartbeat.objects.create(worker_id="w-1", last_beat=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
