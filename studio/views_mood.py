"""`/api/mood/`: the mood reader behind the compose form, as a small JSON endpoint.

GET `?text=...` or POST a JSON body `{"text": "..."}`, with the session or an API token
(`generation.api.api_view`: session POSTs must carry the CSRF token). Answers:
  200  the reader's object: {"valence", "arousal", "attributes", "style_hint", "explanation",
       "unknown_words"} (the same as `manage.py interpret_mood`);
  400  {"error": message} for text the reader refuses or a malformed body;
  401  {"error": ...} for a visitor who is not logged in and sends no API token (JSON, never
       a redirect);
  403  {"error": ...} for a session POST without the CSRF token;
  405  for other methods;
  429  {"error": ...} with Retry-After when the user has used up this minute's requests.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext

from generation.api import api_view, parse_json
from generation.ml.mood import MoodError, explain, interpret_mood

log = logging.getLogger(__name__)

RATE_WINDOW_S = 60


def _rate_limit() -> int:
    return int(getattr(settings, "MOOD_RATE_LIMIT_PER_MINUTE", 60))


def over_rate_limit(user_id: int, *, now: float | None = None) -> int:
    """Count one request for this user in the current fixed one-minute window.

    Returns 0 when the request is allowed, otherwise the seconds until the window ends.
    The counter lives in the shared cache so the limit holds across server processes. If the
    cache is unreachable the request is allowed (reading a mood is cheap; refusing every user
    because Redis blinked would be worse) and the failure is logged.
    """
    now = time.time() if now is None else now
    window = int(now // RATE_WINDOW_S)
    key = f"mood-rate:{user_id}:{window}"
    try:
        # add() is a no-op when the key exists, so two processes cannot reset each other.
        cache.add(key, 0, timeout=RATE_WINDOW_S + 5)
        count = cache.incr(key)
    except Exception as exc:  # any cache backend error: fail open, see docstring
        log.warning("mood rate limit: cache unavailable: %s", exc)
        return 0
    if count <= _rate_limit():
        return 0
    return max(1, int((window + 1) * RATE_WINDOW_S - now + 0.999))


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse(
        {"error": message}, status=status, json_dumps_params={"ensure_ascii": False}
    )


def _text_from(request: HttpRequest) -> str:
    """The mood text of a GET or POST request; raises MoodError for a malformed POST body."""
    if request.method == "GET":
        return request.GET.get("text", "")
    try:
        body = parse_json(request.body or b"null")
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError too
        raise MoodError('The request body must be JSON: {"text": "..."}.') from e
    if not isinstance(body, dict) or "text" not in body:
        raise MoodError('The request body must be a JSON object with "text".')
    if not isinstance(body["text"], str):
        raise MoodError('"text" must be a string.')
    return body["text"]


@api_view("GET", "POST")
def mood_interpret(request: HttpRequest) -> JsonResponse:
    """Read the mood text of a logged-in user or an API token's owner (see the module
    docstring for the answers); login, CSRF and methods as for every API view."""
    retry_after = over_rate_limit(request.user.pk)
    if retry_after:
        response = _error(
            gettext("Too many mood requests: at most %(limit)s a minute. "
                     "Try again in %(seconds)s s.") % {"limit": _rate_limit(),
                                                       "seconds": retry_after},
            429,
        )
        response["Retry-After"] = str(retry_after)
        return response
    try:
        mood = interpret_mood(_text_from(request))
    except MoodError as e:
        return _error(str(e), 400)
    data = mood.to_dict()
    # the explanation in the visitor's language (Accept-Language, the switch, their choice)
    data["explanation"] = explain(mood.reading, gettext)
    return JsonResponse(data, json_dumps_params={"ensure_ascii": False})
