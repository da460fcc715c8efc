"""State changes of the studio's own rows: ratings, reports, moderation.

Track visibility and deletion belong to the jobs layer (``generation.services``); pages call
those. Every function here is keyword-only and atomic, and raises ``Track.DoesNotExist``
where the caller may not act on the track, so views turn it into a 404 without revealing
whether the track exists.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from generation.models import Track
from studio.models import RATING_AXES, RATING_MAX, RATING_MIN, Rating, Report, TrackModeration


class NotAllowed(Exception):
    """The person may see the track but not do this to it (answer 403)."""


def _check_scores(scores: dict[str, int]) -> dict[str, int]:
    clean: dict[str, int] = {}
    for axis in RATING_AXES:
        value = int(scores[axis])
        if not RATING_MIN <= value <= RATING_MAX:
            raise ValueError(f"{axis} must be between {RATING_MIN} and {RATING_MAX}.")
        clean[axis] = value
    return clean


@transaction.atomic
def rate_track(
    *, user, track: Track, overall: int, mood_match: int, style_match: int, comment: str = ""
) -> Rating:
    """Create or update ``user``'s one rating of ``track``.

    Promises: at most one rating per listener per track (the database constraint backs this
    up); the track's model version, task kind and parameters are copied in at each save, and
    ``listener_owns_track`` says whether the listener made the track.
    """
    if user is None or not user.is_authenticated:
        raise NotAllowed("Log in to rate tracks.")
    scores = _check_scores(
        {"overall": overall, "mood_match": mood_match, "style_match": style_match}
    )
    params: dict[str, Any] = dict(track.parameters or {})
    rating, _ = Rating.objects.update_or_create(
        track=track,
        user=user,
        defaults={
            **scores,
            "comment": (comment or "").strip()[:2000],
            "model_version": track.model_version,
            "task_kind": track.kind,
            "parameters": params,
            "listener_owns_track": track.owner_id == user.pk,
        },
    )
    return rating


@transaction.atomic
def report_track(*, user, track: Track, reason: str) -> Report:
    """Record ``user``'s report on a public track; a second open report by the same person
    updates the first. Owners do not report their own tracks."""
    if user is None or not user.is_authenticated:
        raise NotAllowed("Log in to report tracks.")
    if track.owner_id == user.pk:
        raise NotAllowed("This is your own track; make it private instead.")
    reason = (reason or "").strip()[:1000] or "No reason given."
    report, _ = Report.objects.update_or_create(
        reporter=user, track=track, resolved=False, defaults={"reason": reason}
    )
    return report


@transaction.atomic
def hide_track(
    *, staff_user, track_id: int, hidden: bool = True, note: str = ""
) -> TrackModeration:
    """Hide (or show again) a track, by staff only, and resolve its open reports."""
    if not getattr(staff_user, "is_staff", False):
        raise NotAllowed("Only staff can hide tracks.")
    track = Track.objects.get(id=track_id)
    moderation, _ = TrackModeration.objects.get_or_create(track=track)
    track.hidden = hidden
    track.save(update_fields=["hidden"])
    moderation.hidden_by = staff_user if hidden else None
    moderation.hidden_at = timezone.now() if hidden else None
    moderation.note = note[:300]
    moderation.save()
    Report.objects.filter(track=track, resolved=False).update(resolved=True)
    return moderation


@transaction.atomic
def dismiss_reports(*, staff_user, track_id: int) -> int:
    """Resolve a track's open reports without hiding it; returns how many were resolved."""
    if not getattr(staff_user, "is_staff", False):
        raise NotAllowed("Only staff can dismiss reports.")
    return Report.objects.filter(track_id=track_id, resolved=False).update(resolved=True)
