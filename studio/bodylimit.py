"""Request bodies are capped before anything stores them.

One limit per path, from one place (``body_limit``): the URLs that take a MIDI upload accept
``STUDIO_MAX_UPLOAD_BYTES`` plus a little room for the multipart framing and the form's other
fields; everything else accepts ``STUDIO_MAX_BODY_BYTES``. A body over its limit answers 413
with a short message.

Two layers enforce it:

- ``BodyLimitMiddleware`` wraps the HTTP application (``studio.asgi``): it refuses a declared
  ``Content-Length`` over the limit at once, and reads a body of unknown length (chunked)
  into memory only up to the limit, before Django's handler sees (and spools to disk) any of
  it. It holds under any ASGI server.
- ``studio.serve`` starts daphne with a request class that applies the same limit while the
  bytes arrive on the socket: daphne itself would otherwise buffer a whole chunked body, of
  any size, into a temporary file before calling the application.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.urls import reverse

# Multipart boundaries, part headers and the compose form's text fields, beyond the file.
UPLOAD_FORM_ALLOWANCE = 64 * 1024
TOO_LARGE_MESSAGE = b"Request body too large.\n"
BAD_LENGTH_MESSAGE = b"Malformed Content-Length.\n"


@lru_cache(maxsize=1)
def upload_paths() -> frozenset[str]:
    """The paths that accept a MIDI upload (the compose form, the job API, MIDI inspect)."""
    return frozenset(
        reverse(name)
        for name in ("studio:compose", "generation:api-jobs", "generation:api-midi-inspect")
    )


def body_limit(path: str) -> int:
    """The most bytes of request body that ``path`` (no query string) accepts."""
    if path in upload_paths():
        return settings.STUDIO_MAX_UPLOAD_BYTES + UPLOAD_FORM_ALLOWANCE
    return settings.STUDIO_MAX_BODY_BYTES


def declared_length(headers) -> int | None | str:
    """The Content-Length of ASGI ``headers``: an int, None when absent, "bad" when it is
    not one non-negative decimal number."""
    values = [v for k, v in headers if k.lower() == b"content-length"]
    if not values:
        return None
    raw = values[0].strip()
    if len(values) > 1 and any(v.strip() != raw for v in values):
        return "bad"
    if not raw.isdigit():
        return "bad"
    # more digits than any real body has: over every limit (and int() refuses > 4300 digits)
    return int(raw) if len(raw) <= 18 else 10**18


async def _answer(send, status: int, body: bytes) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """ASGI middleware: refuse an HTTP request whose body is over ``body_limit`` (413)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope["path"])
        length = declared_length(scope.get("headers", []))
        if length == "bad":
            return await _answer(send, 400, BAD_LENGTH_MESSAGE)
        if length is not None and length > limit:
            return await _answer(send, 413, TOO_LARGE_MESSAGE)

        # Read the body here, bounded, then hand it on; the app never sees a refused byte.
        received = []
        seen = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # the client went away; let the app see that too
            seen += len(message.get("body", b""))
            if seen > limit:
                return await _answer(send, 413, TOO_LARGE_MESSAGE)
            if not message.get("more_body", False):
                break

        async def replay():
            if received:
                return received.pop(0)
            return await receive()

        return await self.app(scope, replay, send)
