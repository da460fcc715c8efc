"""Redis down is a short outage, not a crash: a request that needed Redis (log-in lockouts,
rate limits, the channel layer) answers 503 "try again shortly" with Retry-After, as a page
or, under /api/, as JSON."""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.shortcuts import render
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 15
MESSAGE = "The studio is briefly unavailable. Please try again shortly."


def _redis_outage(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:  # the cause chain, a few links deep
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class RedisUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not _redis_outage(exception):
            return None
        log.warning("Redis unreachable during %s %s: %s", request.method, request.path, exception)
        if request.path.startswith("/api/"):
            response = JsonResponse({"error": MESSAGE}, status=503)
        else:
            response = render(request, "unavailable.html", {"message": MESSAGE}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
