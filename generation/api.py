"""The JSON API for programs and pages (issue 7). Thin: it authenticates, parses, calls
``generation.services`` and answers.

Authentication: ``Authorization: Token <key>`` (``manage.py issue_token``) or the session.
Session requests that change something need the CSRF token like any form; token requests
do not (a token is not sent by browsers on their own). Someone else's job, track or file is
answered 404, exactly like one that does not exist; an unlisted track is reachable only
through its share token.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import timedelta
from functools import wraps

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from generation import pipeline, services
from generation.files import file_urls, serve_track_file
from generation.models import ApiToken, Job, Track

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# authentication
# ---------------------------------------------------------------------------------------------
def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _unavailable(exc: Exception) -> JsonResponse:
    """503 for a missing engine piece, with Retry-After when it is only busy."""
    response = _error(str(exc), 503)
    if isinstance(exc, pipeline.ParserBusy):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _token_user(request: HttpRequest):
    """The user of a valid ``Authorization: Token`` header; None without one; False for a
    header that is present but wrong."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "token" or not key.strip():
        return False
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=ApiToken.digest_of(key.strip()))
        .filter(created_at__gt=ApiToken.oldest_valid())
        .first()
    )
    if token is None or not token.user.is_active:
        return False
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(hours=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def api_view(*methods: str, login: bool = True):
    """Decorate an API view: allowed methods, token or session auth, CSRF for sessions."""

    def decorate(view):
        @csrf_exempt
        @never_cache
        @require_http_methods(list(methods))
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = _token_user(request)
            if user is False:
                return _error("Invalid token.", 401)
            if user is not None:
                request.user = user
                request.api_token = True
            else:
                request.api_token = False
                if request.method not in ("GET", "HEAD", "OPTIONS"):
                    reason = _CsrfCheck(lambda r: None).process_view(request, None, (), {})
                    if reason is not None:
                        return _error(f"CSRF check failed: {reason}", 403)
            if login and not request.user.is_authenticated:
                return _error("Log in or send an API token.", 401)
            try:
                return view(request, *args, **kwargs)
            except Http404:
                return _error("Not found.", 404)
            except (Job.DoesNotExist, Track.DoesNotExist):
                return _error("Not found.", 404)

        return wrapped

    return decorate


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number.")
    return value


def parse_json(raw: bytes | str):
    """Strict JSON: raises ValueError for text that is not JSON, for NaN and Infinity (which
    Python's parser accepts by default) and numbers that overflow to them, and for nesting
    deeper than the parser can follow."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("The JSON is nested too deeply.") from None


# ---------------------------------------------------------------------------------------------
# jobs
# ---------------------------------------------------------------------------------------------
def _request_parameters(request: HttpRequest) -> tuple[str, dict, bytes | None]:
    """kind, parameters and MIDI bytes from a JSON body or a multipart form."""
    content_type = request.content_type or ""
    midi: bytes | None = None
    if content_type == "application/json":
        try:
            body = parse_json(request.body or b"{}")
        except ValueError:  # UnicodeDecodeError too
            raise pipeline.InvalidJob("The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise pipeline.InvalidJob("The body must be a JSON object.")
        params = body
    else:
        params = {k: v for k, v in request.POST.items()}
        upload = request.FILES.get("midi")
        if upload is not None:
            midi = pipeline.read_midi_upload(upload)
        if isinstance(params.get("attributes"), str) and params["attributes"].strip():
            try:
                params["attributes"] = parse_json(params["attributes"])
            except ValueError:
                raise pipeline.InvalidJob("attributes must be a JSON object.") from None
    kind = params.pop("kind", "compose") or "compose"
    if not isinstance(kind, str):
        raise pipeline.InvalidJob("kind must be text.")
    return kind, params, midi


def job_url(job: Job) -> str:
    return reverse("generation:api-job", args=[job.id])


@api_view("GET", "POST")
def jobs(request):
    """POST: submit a job (202). GET: the caller's 50 most recent jobs.

    infill and harmonize take ``track`` (a track id the caller may open: their own or a
    public one) or a MIDI upload; infill also ``start_bar``, ``end_bar`` (1-based,
    inclusive) and ``voices`` (1 = the highest line; empty: all)."""
    if request.method == "GET":
        recent = Job.objects.filter(owner=request.user).prefetch_related(
            Prefetch("tracks", queryset=Track.objects.only("id", "job_id", "variant")))[:50]
        return JsonResponse({"jobs": [services.job_state(j) for j in recent]})
    try:
        kind, params, midi = _request_parameters(request)
        track_id = params.pop("track", None)
        if track_id not in (None, ""):
            # a repair of a track (its own MIDI); someone else's private track is 404
            if midi:
                raise pipeline.InvalidJob("Send a track or a MIDI file, not both.")
            if isinstance(track_id, bool) or not str(track_id).isdigit():
                raise pipeline.InvalidJob("track must be a track id.")
            job = services.submit_track_job(
                user=request.user, kind=kind, track_id=int(track_id), params=params)
        else:
            job = services.submit_job(
                user=request.user, kind=kind, params=params, midi_bytes=midi)
    except pipeline.InvalidJob as exc:
        return _error(str(exc), 400)
    except services.QuotaExceeded as exc:
        return _error(str(exc), 429)
    except pipeline.EngineUnavailable as exc:
        return _unavailable(exc)
    response = JsonResponse({"id": job.id, "status": job.status, "url": job_url(job)}, status=202)
    response["Location"] = job_url(job)
    return response


@api_view("GET")
def job_detail(request, job_id: int):
    job = Job.objects.get(id=job_id, owner=request.user)
    return JsonResponse(services.job_state(job))


@api_view("POST")
def job_cancel(request, job_id: int):
    try:
        job = services.cancel_job(job_id=job_id, user=request.user)
    except services.InvalidTransition as exc:
        return _error(str(exc), 409)
    return JsonResponse(services.job_state(job))


# ---------------------------------------------------------------------------------------------
# tracks
# ---------------------------------------------------------------------------------------------
def track_data(track: Track, *, user, share_token: str | None = None) -> dict:
    """What the API says about a track the caller may see."""
    mine = user is not None and user.is_authenticated and track.owner_id == user.id
    parameters = {k: v for k, v in (track.parameters or {}).items() if k != "input_summary"}
    data = {
        "id": track.id,
        "title": track.title,
        "visibility": track.visibility,
        "parameters": parameters,
        "attributes": track.attributes,
        "model_version": track.model_version,
        "seed": track.seed,
        "variant": track.variant,
        "duration_seconds": round(track.duration_seconds, 3),
        "created": track.created_at.isoformat(),
        "mine": mine,
        "files": file_urls(track, share_token),
    }
    if track.parent_id or track.change:
        source = (track.parameters or {}).get("source") or {}
        # the parent's id only where the caller may open it (else it is not there for them)
        visible = Track.objects.visible_by_id_to(user).filter(id=track.parent_id).exists()
        data["parent"] = track.parent_id if track.parent_id and visible else None
        data["change"] = track.change
        data["source"] = {"title": source.get("title", ""), "owner": source.get("owner", "")}
    if mine:
        data["job"] = track.job_id
        data["share_url"] = reverse("generation:api-shared", args=[track.share_token])
    return data


@api_view("GET", "PATCH", "DELETE", login=False)
def track_detail(request, track_id: int):
    if request.method == "GET":
        track = Track.objects.visible_by_id_to(request.user).get(id=track_id)
        return JsonResponse(track_data(track, user=request.user))
    if not request.user.is_authenticated:
        return _error("Log in or send an API token.", 401)
    if request.method == "DELETE":
        services.delete_track(track_id=track_id, user=request.user)
        return HttpResponse(status=204)
    try:
        body = parse_json(request.body or b"{}")
    except ValueError:
        return _error("The body is not valid JSON.", 400)
    if not isinstance(body, dict) or "visibility" not in body:
        return _error('Send {"visibility": "private|unlisted|public"}.', 400)
    try:
        track = services.set_visibility(
            track_id=track_id, user=request.user, visibility=body["visibility"]
        )
    except pipeline.InvalidJob as exc:
        return _error(str(exc), 400)
    return JsonResponse(track_data(track, user=request.user))


def _page(request) -> int:
    try:
        return max(1, int(request.GET.get("page", 1)))
    except ValueError:
        return 1


@api_view("GET", "HEAD", login=False)
def track_file(request, track_id: int, kind: str):
    track = Track.objects.visible_by_id_to(request.user).get(id=track_id)
    return serve_track_file(request, track, kind, _page(request))


@api_view("GET", login=False)
def shared_track(request, token: str):
    track = Track.objects.shared(token).get()
    return JsonResponse(track_data(track, user=request.user, share_token=token))


@api_view("GET", "HEAD", login=False)
def shared_file(request, token: str, kind: str):
    track = Track.objects.shared(token).get()
    return serve_track_file(request, track, kind, _page(request))


# ---------------------------------------------------------------------------------------------
# MIDI inspection for the compose page
# ---------------------------------------------------------------------------------------------
@api_view("POST")
def midi_inspect(request):
    upload = request.FILES.get("midi")
    if upload is None:
        return _error("Send the MIDI file in the field 'midi'.", 400)
    try:
        summary = services.inspect_upload(
            user=request.user, midi_bytes=pipeline.read_midi_upload(upload)
        )
    except pipeline.InvalidJob as exc:
        return _error(str(exc), 400)
    except services.QuotaExceeded as exc:
        return _error(str(exc), 429)
    except pipeline.EngineUnavailable as exc:
        return _unavailable(exc)
    return JsonResponse(summary)
