"""Site-wide pages: the landing page and the health check."""

from __future__ import annotations

import asyncio
import logging
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)


def home(request):
    return render(request, "home.html")


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0] == 1
    except Exception:
        log.exception("healthz: database unreachable")
        return False


async def _layer_round_trip() -> bool:
    layer = get_channel_layer()
    channel = await layer.new_channel(prefix="healthz")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz.ping", "token": token})
    message = await asyncio.wait_for(layer.receive(channel), timeout=3)
    return message.get("token") == token


def _channel_layer_ok() -> bool:
    try:
        return bool(async_to_sync(_layer_round_trip)())
    except Exception as exc:
        log.warning("healthz: channel layer unreachable: %s", exc)
        return False


def _live_workers() -> int:
    try:
        from generation.services import live_worker_count
    except ImportError:
        return 0
    try:
        return int(live_worker_count())
    except Exception:
        log.exception("healthz: could not count workers")
        return 0


def _queued_jobs() -> int:
    from generation.models import Job

    try:
        return Job.objects.filter(status=Job.Status.QUEUED).count()
    except Exception:
        log.exception("healthz: could not count queued jobs")
        return 0


@never_cache
@require_GET
def healthz(request):
    """200 "ok"; 503 "unavailable" without the database or Redis; 503 "degraded" when jobs
    wait and no worker is alive to take them (the site answers, but nothing gets made)."""
    database = _database_ok()
    channel_layer = _channel_layer_ok()
    workers = _live_workers() if database else 0
    queued = _queued_jobs() if database else 0
    if not (database and channel_layer):
        status = "unavailable"
    elif queued and not workers:
        status = "degraded"
    else:
        status = "ok"
    body = {
        "status": status,
        "database": database,
        "channel_layer": channel_layer,
        "workers": workers,
        "queued": queued,
    }
    return JsonResponse(body, status=200 if status == "ok" else 503)
