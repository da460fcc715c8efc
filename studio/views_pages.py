"""The studio's pages: compose, job progress, track (with sharing and rating), gallery,
my tracks, moderation. Views are thin: forms check input, ``generation.services`` and
``studio.services`` change state, ``studio.selectors`` decide who sees what.

Whatever a person may not see answers 404, exactly like something that does not exist.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from generation import pipeline, services, storage
from generation.files import file_url, file_urls, track_file_bytes
from generation.ml.mood import STYLE_NAMES
from generation.models import Job, Track
from studio import selectors
from studio import services as studio_services
from studio.forms import (
    MOOD_EXAMPLES,
    ComposeForm,
    RatingForm,
    ReportForm,
    TransferForm,
    VisibilityForm,
    chosen_attributes,
)
from studio.models import MIN_RATINGS_FOR_AVERAGE
from studio.views_repair import repair_context

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def track_files(track: Track, token: str | None = None) -> dict[str, Any]:
    """Every file URL the track page needs; keys absent when the track lacks the file."""
    files = track.files or {}
    out: dict[str, Any] = file_urls(track, token)
    for kind in ("midi", "musicxml", "audio"):
        if files.get(kind):
            out[f"{kind}_download"] = file_url(track, kind, token=token, download=True)
    out["audio_ext"] = Path(files.get("audio") or "").suffix.lstrip(".").upper()
    return out


def _style_name(style: str | None) -> str:
    """A style's name for people, in the active language ("" for none)."""
    if not style:
        return ""
    name = STYLE_NAMES.get(style)
    return capfirst(gettext(name)) if name else style.replace("_", " ").capitalize()


def _band_value(value: Any) -> str:
    """A band or mode value (major, slow, dense...) in the active language."""
    return capfirst(gettext(str(value)))


def _describe_parameters(track: Track) -> list[tuple[str, str]]:
    """The request behind a track, as label/value pairs for people."""
    p = track.parameters or {}
    kind = track.kind
    rows: list[tuple[str, str]] = [
        (_("Made by"), dict(Job.Kind.choices).get(kind, kind or "?"))]
    if p.get("mood"):
        rows.append((_("Mood"), p["mood"]))
    if p.get("style"):
        rows.append((_("Style"), _style_name(p["style"])))
    if p.get("to_style"):
        rows.append((_("Target style"), _style_name(p["to_style"])))
    rows += _attribute_rows(p.get("attributes") or {}, skip=("tempo_band",))
    if "bars" in p and kind != "transfer":
        # a transfer keeps the seed's length: the seed's bars are shown beside the original
        rows.append((_("Length"), gettext("%(bars)s bars") % {"bars": p["bars"]}))
    for key, label in (("temperature", _("Temperature")), ("variants", _("Variants"))):
        if key in p:
            rows.append((label, str(p[key])))
    return rows


_ATTRIBUTE_LABELS = (
    ("mode", _("Mode")),
    ("tempo_bpm", _("Tempo")),
    ("tempo_band", _("Tempo band")),
    ("density_band", _("Density")),
    ("register_band", _("Register")),
    ("dynamics", _("Dynamics")),
)


def _attribute_value(key: str, value: Any) -> str:
    if key == "tempo_bpm":
        return f"{round(float(value))} BPM"
    if key == "dynamics":
        return str(value)
    return _band_value(value)


def _attribute_rows(attrs: dict, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Label/value rows of the musical attributes present in ``attrs``."""
    return [(label, _attribute_value(key, attrs[key]))
            for key, label in _ATTRIBUTE_LABELS if key in attrs and key not in skip]


def _mood_reading(track: Track) -> list[tuple[str, str]]:
    """How the mood was read, less what the person set by hand (a tempo typed as 120 is the
    track's tempo; the mood's 74 BPM would only contradict it)."""
    params = track.parameters or {}
    chosen = chosen_attributes(params)
    skip = tuple(chosen) + (("tempo_band",) if "tempo_bpm" in chosen else ())
    return _attribute_rows(params.get("mood_attributes") or {}, skip=skip)


def _score_summary(track: Track) -> str:
    """The score in words, for people who cannot see it: length, meter, key or mode, tempo,
    style and instruments, as far as the track records them."""
    params = track.parameters or {}
    measured = track.attributes or {}
    seed = params.get("input_summary") or {}
    parts = []
    bars = seed.get("bars") if track.kind == "transfer" else params.get("bars")
    if bars:
        parts.append(gettext("%(bars)s bars") % {"bars": bars})
    for value in (measured.get("meter") or seed.get("meter"), measured.get("key") or seed.get("key")):
        if value:
            parts.append(str(value))
    mode = measured.get("mode") or (params.get("attributes") or {}).get("mode")
    if mode and not (measured.get("key") or seed.get("key")):
        parts.append(_band_value(mode))
    tempo = (params.get("attributes") or {}).get("tempo_bpm") or (
        params.get("mood_attributes") or {}).get("tempo_bpm")
    if tempo:
        parts.append(f"{round(float(tempo))} BPM")
    style = params.get("to_style") or params.get("style")
    if style:
        parts.append(_style_name(style))
    instruments = measured.get("instruments") or params.get("instruments")
    if instruments:
        parts.append(", ".join(str(i) for i in instruments))
    return gettext(", ").join(parts)


def _render_track(
    request: HttpRequest,
    track: Track,
    *,
    token: str | None,
    status: int = 200,
    rating_form: RatingForm | None = None,
    transfer_form: TransferForm | None = None,
) -> HttpResponse:
    user = request.user
    is_owner = user.is_authenticated and track.owner_id == user.pk
    files = track_files(track, token)
    own_rating = selectors.rating_of(user=user, track=track)
    if rating_form is None:
        initial = {}
        if own_rating is not None:
            initial = {
                "overall": own_rating.overall,
                "mood_match": own_rating.mood_match,
                "style_match": own_rating.style_match,
                "comment": own_rating.comment,
            }
        rating_form = RatingForm(initial=initial)
    params = track.parameters or {}
    share_url = request.build_absolute_uri(reverse("studio:shared", args=[track.share_token]))
    og_image = ""
    if files.get("pianoroll") and track.visibility != Track.Visibility.PRIVATE:
        # the image a link preview shows must work for someone who has only the link
        og_image = request.build_absolute_uri(
            file_url(
                track,
                "pianoroll",
                token=token
                or (track.share_token if track.visibility == Track.Visibility.UNLISTED else None),
            )
        )
    is_transfer = track.kind == "transfer"
    source_style = params.get("source_style") or (track.attributes or {}).get("source_style")
    context = {
        "track": track,
        "token": token,
        "is_owner": is_owner,
        "files": files,
        "parameter_rows": _describe_parameters(track),
        "roll_table": _roll_table(track) if files.get("pianoroll") else None,
        "score_summary": _score_summary(track),
        "mood_rows": _mood_reading(track),
        "measured": track.attributes or {},
        "is_transfer": is_transfer,
        "input_summary": params.get("input_summary") or {},
        "source_style": _style_name(source_style),
        "target_style": _style_name(params.get("to_style")) or "?",
        # a transfer into the style the seed already has returns it nearly unchanged: say so
        "same_style": is_transfer and bool(source_style) and source_style == params.get("to_style"),
        "summary": selectors.rating_summary(track),
        "min_ratings": MIN_RATINGS_FOR_AVERAGE,
        "own_rating": own_rating,
        # comments are for the owner (the person who can act on them), not the public page
        "rating_comments": selectors.rating_comments(track=track) if is_owner else [],
        "rating_form": rating_form,
        "rate_url": (
            reverse("studio:shared-rate", args=[token])
            if token
            else reverse("studio:track-rate", args=[track.id])
        ),
        "visibility_form": VisibilityForm(initial={"visibility": track.visibility}),
        "transfer_form": transfer_form or TransferForm(),
        "share_url": share_url,
        "og_image": og_image,
        "page_url": request.build_absolute_uri(),
        "can_report": (
            user.is_authenticated and not is_owner and track.visibility == Track.Visibility.PUBLIC
        ),
        "moderation": getattr(track, "moderation", None) if is_owner or user.is_staff else None,
        **repair_context(request, track, token=token),
    }
    return render(request, "studio/track.html", context, status=status)


def _owned_track(request: HttpRequest, track_id: int) -> Track:
    try:
        return Track.objects.select_related("job").get(id=track_id, owner=request.user)
    except Track.DoesNotExist:
        raise Http404("No such track.") from None


def _submit(
    request: HttpRequest,
    kind: str,
    params: dict[str, Any],
    midi: bytes | None,
    on_error_redirect: str,
    source: Track,
    model_version: str | None = None,
) -> HttpResponse:
    """Submit a job made from ``source`` (a button on its page) and go to its progress page."""
    try:
        job = services.submit_job(
            user=request.user, kind=kind, params=params, midi_bytes=midi, source=source,
            model_version=model_version,
        )
    except (pipeline.InvalidJob, pipeline.EngineUnavailable, services.QuotaExceeded) as exc:
        messages.error(request, str(exc))
        return redirect(on_error_redirect)
    return redirect("studio:job", job_id=job.id)


# ---------------------------------------------------------------------------------------------
# compose and progress
# ---------------------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest) -> HttpResponse:
    """GET: the form (optionally filled from an earlier track or job). POST: queue a job."""
    status = 200
    if request.method == "POST":
        form = ComposeForm(request.POST, request.FILES)
        if form.is_valid():
            kind, params, midi = form.job_request()
            try:
                job = services.submit_job(
                    user=request.user, kind=kind, params=params, midi_bytes=midi
                )
            except pipeline.InvalidMidi as exc:
                form.add_error("midi", str(exc))
                status = 400
            except pipeline.InvalidJob as exc:
                form.add_error(None, str(exc))
                status = 400
            except pipeline.EngineUnavailable as exc:
                form.add_error(None, str(exc))
                status = 503
            except services.QuotaExceeded as exc:
                form.add_error(None, str(exc))
                status = 429
            else:
                return redirect("studio:job", job_id=job.id)
        else:
            status = 400
    else:
        initial: dict[str, Any] = {}
        source = None
        if request.GET.get("track"):
            source = Track.objects.filter(owner=request.user, id=_int(request.GET["track"])).first()
        elif request.GET.get("job"):
            source = Job.objects.filter(owner=request.user, id=_int(request.GET["job"])).first()
        if source is not None:
            initial = ComposeForm.initial_from_parameters(source.parameters or {})
        elif request.GET.get("mood"):
            # an example mood (the links under the box, the first visit after sign-up)
            initial = {"way": "compose", "mood": request.GET["mood"][: pipeline.MAX_MOOD_CHARS]}
        form = ComposeForm(initial=initial)
    return render(
        request,
        "studio/compose.html",
        {
            "form": form,
            "mood_url": reverse("api-mood"),
            "inspect_url": reverse("generation:api-midi-inspect"),
            "mood_examples": [str(example) for example in MOOD_EXAMPLES],
            "max_upload_bytes": settings.STUDIO_MAX_UPLOAD_BYTES,
        },
        status=status,
    )


def _int(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0



@login_required
def job_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """Progress of the owner's job; once done, its variants side by side (or the track)."""
    job = Job.objects.filter(id=job_id, owner=request.user).first()
    if job is None:
        raise Http404("No such job.")
    tracks = list(job.tracks.order_by("variant"))
    if job.status == Job.Status.DONE and len(tracks) == 1 and request.GET.get("stay") is None:
        return redirect("studio:track", track_id=tracks[0].id)
    variants = [(t, track_files(t)) for t in tracks] if job.status == Job.Status.DONE else []
    return render(
        request,
        "studio/progress.html",
        {
            "job": job,
            "variants": variants,
            "poll_url": reverse("generation:api-job", args=[job.id]),
            "ws_path": f"/ws/jobs/{job.id}/",
            "retry_url": reverse("studio:compose") + f"?job={job.id}",
        },
    )


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        services.cancel_job(job_id=job_id, user=request.user)
    except Job.DoesNotExist:
        raise Http404("No such job.") from None
    except services.InvalidTransition as exc:
        messages.info(request, str(exc))
    return redirect("studio:job", job_id=job_id)


# ---------------------------------------------------------------------------------------------
# tracks
# ---------------------------------------------------------------------------------------------
@login_required
def my_tracks(request: HttpRequest) -> HttpResponse:
    page = selectors.my_tracks(user=request.user, page=request.GET.get("page", 1))
    return render(
        request,
        "studio/my_tracks.html",
        {
            "page": page,
            "cards": [(t, track_files(t)) for t in page.object_list],
            "active_jobs": selectors.my_active_jobs(user=request.user),
            "failed_jobs": selectors.my_recent_failed_jobs(user=request.user),
        },
    )


def track_page(request: HttpRequest, track_id: int) -> HttpResponse:
    try:
        track = selectors.track_for_page(user=request.user, track_id=track_id)
    except Track.DoesNotExist:
        raise Http404("No such track.") from None
    return _render_track(request, track, token=None)


def shared_track(request: HttpRequest, token: str) -> HttpResponse:
    """``/s/<token>/``: an unlisted or public track for anyone with the link."""
    try:
        track = selectors.track_for_share(token=token)
    except Track.DoesNotExist:
        raise Http404(
            "This link does not lead to a track (it may have been made private)."
        ) from None
    return _render_track(request, track, token=token)


@login_required
@require_http_methods(["GET", "POST"])
def track_delete(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _owned_track(request, track_id)
    if request.method == "POST":
        services.delete_track(track_id=track.id, user=request.user)
        messages.success(request, gettext("“%(track)s” was deleted.") % {"track": track})
        return redirect("studio:my-tracks")
    return render(request, "studio/track_delete.html", {"track": track})


@login_required
@require_POST
def track_visibility(request: HttpRequest, track_id: int) -> HttpResponse:
    track = _owned_track(request, track_id)
    form = VisibilityForm(request.POST)
    if form.is_valid():
        services.set_visibility(
            track_id=track.id, user=request.user, visibility=form.cleaned_data["visibility"]
        )
        label = dict(Track.Visibility.choices)[form.cleaned_data["visibility"]]
        messages.success(request, gettext("Visibility changed: %(label)s.") % {"label": label})
    else:
        messages.error(request, gettext("Choose private, unlisted or public."))
    return redirect(reverse("studio:track", args=[track.id]) + "#sharing")


@login_required
@require_POST
def track_new_link(request: HttpRequest, track_id: int) -> HttpResponse:
    """Replace the track's share link; the old one stops working at once."""
    track = _owned_track(request, track_id)
    services.new_share_link(track_id=track.id, user=request.user)
    messages.success(request, gettext("The track has a new link; the old one no longer works."))
    return redirect(reverse("studio:track", args=[track.id]) + "#sharing")


def _rate(request: HttpRequest, track: Track, token: str | None) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    form = RatingForm(request.POST)
    if not form.is_valid():
        return _render_track(request, track, token=token, status=400, rating_form=form)
    had = selectors.rating_of(user=request.user, track=track) is not None
    studio_services.rate_track(user=request.user, track=track, **form.cleaned_data)
    # shown inside the rating section (the "rating" tag), which the page scrolls to, so the
    # thank-you is where the visitor's eyes are, not above the fold they were sent past
    messages.success(
        request,
        gettext("Your rating was updated.") if had else gettext("Thank you for rating."),
        extra_tags="inline rating",
    )
    back = (
        reverse("studio:shared", args=[token])
        if token
        else reverse("studio:track", args=[track.id])
    )
    return redirect(back + "#rating-section")


@require_POST
def track_rate(request: HttpRequest, track_id: int) -> HttpResponse:
    try:
        track = selectors.track_for_page(user=request.user, track_id=track_id)
    except Track.DoesNotExist:
        raise Http404("No such track.") from None
    return _rate(request, track, None)


@require_POST
def shared_rate(request: HttpRequest, token: str) -> HttpResponse:
    try:
        track = selectors.track_for_share(token=token)
    except Track.DoesNotExist:
        raise Http404("No such track.") from None
    return _rate(request, track, token)


@login_required
@require_http_methods(["GET", "POST"])
def track_report(request: HttpRequest, track_id: int) -> HttpResponse:
    try:
        track = selectors.track_for_page(user=request.user, track_id=track_id)
    except Track.DoesNotExist:
        raise Http404("No such track.") from None
    if track.visibility != Track.Visibility.PUBLIC:
        raise Http404("Only public tracks can be reported.")
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            studio_services.report_track(
                user=request.user, track=track, reason=form.cleaned_data["reason"]
            )
        except studio_services.NotAllowed as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, gettext("Thank you: the report was sent to the moderators."))
        return redirect("studio:track", track_id=track.id)
    return render(
        request,
        "studio/report.html",
        {"track": track, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def track_regenerate(request: HttpRequest, track_id: int) -> HttpResponse:
    """The same request again with a fresh seed (same settings, new music)."""
    track = _owned_track(request, track_id)
    params = dict(track.parameters or {})
    kind = track.kind or "compose"
    params.pop("kind", None)
    # the same model version as the track (A/B groups stay apart); a fresh seed
    version = params.pop("model", None)
    for derived in ("seed", "mood_attributes", "input_summary", "input_bytes"):
        params.pop(derived, None)
    if params.get("mood"):
        # explicit choices only: the mood is read again by the same reader
        params["attributes"] = chosen_attributes(track.parameters or {})
    midi = None
    if kind != "compose":
        midi = _job_input(track)
        if midi is None:
            messages.error(
                request,
                gettext("The original MIDI file of this track is gone; "
                        "upload it again on the compose page."),
            )
            return redirect("studio:track", track_id=track.id)
    # a repair made again is a repair of the same parent, not of this result
    source = track.parent if kind in pipeline.REPAIR_KINDS and track.parent else track
    return _submit(request, kind, params, midi, reverse("studio:track", args=[track.id]), source,
                   model_version=version)


def _job_input(track: Track) -> bytes | None:
    """The uploaded seed of the track's job, while it is still on disk."""
    if not (track.job and track.job.input_file):
        return None
    return storage.read_bytes(track.job.input_file)


def _roll_table(track: Track) -> dict | None:
    """The piano roll's notes as table rows (kept in the cache: a track's MIDI never
    changes), or None when its MIDI cannot be read."""
    from django.core.cache import cache

    from generation.music.notes import piece_from_midi
    from generation.render.pianoroll_table import pianoroll_rows

    key = f"roll-table:{track.id}:{track.size_bytes}"
    table = cache.get(key)
    if table is None:
        midi = _track_midi(track)
        if midi is None:
            return None
        try:
            rows, left_out = pianoroll_rows(piece_from_midi(midi))
        except Exception:  # a file that went bad on disk: the picture alone, no table
            log.warning("track %s: its MIDI could not be read for the notes table", track.id)
            return None
        table = {"rows": rows, "left_out": left_out,
                 "parts": len({row.part for row in rows}) > 1}
        cache.set(key, table, 3600)
    return table


def _track_midi(track: Track) -> bytes | None:
    try:
        return track_file_bytes(track, "midi")
    except Http404:
        return None


def _shared_options(track: Track) -> dict[str, Any]:
    p = track.parameters or {}
    return {k: p[k] for k in ("bars", "temperature", "style") if k in p}


@login_required
@require_POST
def track_continue(request: HttpRequest, track_id: int) -> HttpResponse:
    """Use this track as the seed of a continuation."""
    track = _owned_track(request, track_id)
    midi = _track_midi(track)
    if midi is None:
        raise Http404("This track has no MIDI file.")
    params = _shared_options(track)
    params["style"] = params.get("style") or (track.parameters or {}).get("to_style", "")
    return _submit(
        request, "continue", params, midi, reverse("studio:track", args=[track.id]), track
    )


@login_required
@require_POST
def track_transfer(request: HttpRequest, track_id: int) -> HttpResponse:
    """Move this track into another style."""
    track = _owned_track(request, track_id)
    form = TransferForm(request.POST)
    if not form.is_valid():
        return _render_track(request, track, token=None, status=400, transfer_form=form)
    midi = _track_midi(track)
    if midi is None:
        raise Http404("This track has no MIDI file.")
    params = {"to_style": form.cleaned_data["to_style"]}
    return _submit(
        request, "transfer", params, midi, reverse("studio:track", args=[track.id]), track
    )


# ---------------------------------------------------------------------------------------------
# gallery and moderation
# ---------------------------------------------------------------------------------------------
def gallery(request: HttpRequest) -> HttpResponse:
    order = request.GET.get("order", "newest")
    if order not in selectors.GALLERY_ORDERS:
        order = "newest"
    page = selectors.gallery_page(order=order, page=request.GET.get("page", 1))
    cards = [(t, track_files(t)) for t in page.object_list]
    return render(
        request,
        "studio/gallery.html",
        {
            "page": page,
            "cards": cards,
            "order": order,
            "min_ratings": MIN_RATINGS_FOR_AVERAGE,
        },
    )


@staff_member_required
def moderation(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "studio/moderation.html",
        {
            "reported": selectors.reported_tracks(),
            "hidden": selectors.hidden_tracks(),
        },
    )


@staff_member_required
@require_POST
def moderation_action(request: HttpRequest, track_id: int) -> HttpResponse:
    action = request.POST.get("action")
    try:
        if action == "hide":
            studio_services.hide_track(
                staff_user=request.user, track_id=track_id, note=request.POST.get("note", "")
            )
            messages.success(request, gettext("The track is hidden."))
        elif action == "show":
            studio_services.hide_track(staff_user=request.user, track_id=track_id, hidden=False)
            messages.success(request, gettext("The track is visible again."))
        elif action == "dismiss":
            studio_services.dismiss_reports(staff_user=request.user, track_id=track_id)
            messages.success(request, gettext("The reports were dismissed."))
        else:
            messages.error(request, gettext("Unknown action."))
    except Track.DoesNotExist:
        raise Http404("No such track.") from None
    return redirect("studio:moderation")
