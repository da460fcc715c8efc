"""Blind listening pages (``/listen/``): one clip (or pair) at a time, nothing that tells
what a clip is. Logic lives in ``studio.listening``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.views.decorators.http import require_http_methods, require_POST

from generation import storage
from generation.files import serve_path
from studio import listening
from studio.models import RATING_MAX, RATING_MIN

AXES = [("overall", N_("How good is it as music?")),
        ("mood_match", N_("How clearly does it carry a mood?")),
        ("style_match", N_("How well does it hold one style?"))]
QUESTIONS = [("more_musical", N_("Which is more musical?")),
             ("fits_mood", N_("Which fits its mood better?"))]


@login_required
def listen_home(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/listen_home.html",
                  {"open_session": listening.current_session(user=request.user)})


@login_required
@require_POST
def listen_start(request: HttpRequest) -> HttpResponse:
    try:
        listening.start_session(user=request.user)
    except listening.NoClips as exc:
        messages.error(request, str(exc))
        return redirect("studio:listen")
    return redirect("studio:listen-step")


@login_required
@require_http_methods(["GET", "POST"])
def listen_step(request: HttpRequest) -> HttpResponse:
    session = listening.current_session(user=request.user)
    if session is None:
        return redirect("studio:listen")
    error = None
    if request.method == "POST":
        try:
            number = int(request.POST.get("step", "0"))
            listening.answer(session=session, number=number, values=request.POST)
            session.refresh_from_db()
            return redirect("studio:listen-done" if session.finished_at else "studio:listen-step")
        except listening.StaleAnswer as exc:
            messages.info(request, str(exc))
            return redirect("studio:listen-step")
        except ValueError as exc:
            error = str(exc)
        session.refresh_from_db()
    step = listening.step_of(session)
    if step is None:
        return redirect("studio:listen-done")
    return render(request, "studio/listen_step.html", {
        "step": step, "error": error, "posted": request.POST if error else {},
        "axes": [(name, _(label)) for name, label in AXES],
        "questions": [(name, _(label)) for name, label in QUESTIONS],
        "scores": range(RATING_MIN, RATING_MAX + 1),
        "percent": round(100 * (step.number - 1) / step.total),
    }, status=400 if error else 200)


@login_required
@require_POST
def listen_stop(request: HttpRequest) -> HttpResponse:
    session = listening.current_session(user=request.user)
    if session is not None:
        listening.stop(session=session)
    return redirect("studio:listen-done")


@login_required
def listen_done(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/listen_done.html")


@login_required
def listen_audio(request: HttpRequest, token: str) -> HttpResponse:
    found = listening.clip_file(user=request.user, token=token)
    if found is None:
        raise Http404("no such clip")
    name, content_type = found
    # no file name: the clip's name would be its only label. From an object store the bytes
    # come through this view too: a redirect to a signed URL would show the track's key.
    if storage.remote():
        data = storage.read_bytes(name)
        if data is None:
            raise Http404("no such clip")
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = "inline"
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-cache"
        return response
    return serve_path(request, storage.local_path(name), content_type=content_type,
                      disposition="inline")
