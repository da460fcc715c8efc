"""Repair on the track page (issue 15): rewrite chosen bars ("infill") and harmonize a
melody. Thin: the form's fields go to ``generation.services.submit_track_job``, which checks
them (pipeline.clean_parameters) and who may use the track; the job then runs like every job
and its progress page opens the new track.

``repair_context`` is what the track page's ``studio/_repair.html`` needs: where the bars
are, how many voices, what can be done here, and the track's history of repairs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.text import get_text_list
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from generation import pipeline, services
from generation.files import track_file_path
from generation.models import Track
from studio import selectors


def _layout(track: Track) -> dict[str, Any]:
    """Where the bars are (``pipeline``'s layout, recorded by the worker); tracks made before
    it was recorded have it read from their MIDI file."""
    layout = dict((track.attributes or {}).get("layout") or {})
    if layout.get("bars"):
        return layout
    try:
        from generation.music.notes import piece_from_midi

        piece = piece_from_midi(track_file_path(track, "midi"))
    except (Http404, OSError, ValueError):
        return {}
    return pipeline.layout_of(piece)


def repair_context(request: HttpRequest, track: Track, *, token: str | None) -> dict[str, Any]:
    user = request.user
    layout = _layout(track)
    params = track.parameters or {}
    can_open_by_id = (
        user.is_authenticated
        and Track.objects.visible_by_id_to(user).filter(id=track.id).exists()
    )
    from generation.music.grid import STYLE_VOICES

    start, end = params.get("start_bar"), params.get("end_bar")
    bars = int(layout.get("bars") or 0)
    voices = int(layout.get("voices") or 0)
    # the repair model writes one-line tunes and four-voice textures (its styles' voices)
    writable = sorted(set(STYLE_VOICES.values()))
    selected = request.GET.get("bars", "")
    first, _, last = selected.partition("-")
    return {
        "repair": {
            # a repair works from the track's id: its owner, or anyone for a public track
            "can_edit": bool(can_open_by_id and bars and (track.files or {}).get("midi")),
            "supported": voices in writable,
            "writable": get_text_list([str(v) for v in writable], gettext("or")),
            "layout": layout,
            "bars": bars,
            "voices": list(range(1, voices + 1)),
            "single_line": voices == 1,
            "highlight": [start, end] if track.kind == "infill" and start and end else None,
            "compare": bool((track.files or {}).get("original_audio")) and track.kind in
            pipeline.REPAIR_KINDS,
            "history": selectors.track_history(track, user=user)
            if track.parent_id or params.get("source") else [],
            "start": first if first.isdigit() else "",
            "end": (last or first) if (last or first).isdigit() else "",
            "mine": user.is_authenticated and track.owner_id == user.pk,
        }
    }


def _visible_track(request: HttpRequest, track_id: int) -> Track:
    try:
        return Track.objects.visible_by_id_to(request.user).get(id=track_id)
    except Track.DoesNotExist:
        raise Http404("No such track.") from None


def _submit(request: HttpRequest, track: Track, kind: str, params: dict,
            back_query: dict | None = None) -> HttpResponse:
    try:
        job = services.submit_track_job(
            user=request.user, kind=kind, track_id=track.id, params=params)
    except Track.DoesNotExist:
        raise Http404("No such track.") from None
    except (pipeline.InvalidJob, pipeline.EngineUnavailable, services.QuotaExceeded) as exc:
        messages.error(request, str(exc))
        url = reverse("studio:track", args=[track.id])
        if back_query:  # the selection comes back, so nothing typed is lost
            url += "?" + urlencode(back_query) + "#repair"
        return redirect(url)
    return redirect("studio:job", job_id=job.id)


@login_required
@require_POST
def track_infill(request: HttpRequest, track_id: int) -> HttpResponse:
    """Rewrite the chosen bars (and voices) of a track: yours, or a public one to remix."""
    track = _visible_track(request, track_id)
    start = request.POST.get("start_bar", "").strip()
    end = request.POST.get("end_bar", "").strip() or start
    voices = request.POST.getlist("voices")
    all_voices = [str(v) for v in range(1, int(_layout(track).get("voices") or 0) + 1)]
    if sorted(voices) == all_voices:
        voices = []  # every voice: the engine's default
    elif not voices:
        messages.error(request, "Choose at least one voice to rewrite.")
        return redirect(reverse("studio:track", args=[track.id])
                        + "?" + urlencode({"bars": f"{start}-{end}"}) + "#repair")
    params = {"start_bar": start, "end_bar": end, "voices": voices}
    return _submit(request, track, "infill", params, {"bars": f"{start}-{end}"})


@login_required
@require_POST
def track_harmonize(request: HttpRequest, track_id: int) -> HttpResponse:
    """Write the voices under a single-line track."""
    track = _visible_track(request, track_id)
    from generation.music.grid import STYLE_VOICES

    style = (track.parameters or {}).get("style") or ""
    # a one-line style (the folk tunes) keeps it a tune with an accompaniment; else a chorale
    params = {"style": style if STYLE_VOICES.get(style) == 1 else "chorale"}
    return _submit(request, track, "harmonize", params)
