"""Reads for the studio pages: who may see which track, the gallery, rating summaries.

Visibility rules (the same for pages and files):
- the owner always sees their track, whatever its visibility or moderation;
- by id, anyone else sees only a public track that staff have not hidden, and staff see any
  public or unlisted track, hidden or not (to moderate it), never another's private one;
- by share token, anyone sees an unlisted or public track that is not hidden; a private
  track's token leads nowhere, so making a track private revokes its link at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Avg, Count, Prefetch, Q, QuerySet

from generation.models import Job, Track
from studio.models import MIN_RATINGS_FOR_AVERAGE, Rating, Report

GALLERY_PAGE_SIZE = 12
GALLERY_ORDERS = ("newest", "top")


def track_for_page(*, user, track_id: int) -> Track:
    """The track at ``/tracks/<id>/`` for ``user``, or Track.DoesNotExist (the same rule as
    the API and the files: ``TrackQuerySet.visible_by_id_to``)."""
    return Track.objects.visible_by_id_to(user).select_related("job", "owner").get(id=track_id)


def track_for_share(*, token: str) -> Track:
    """The track behind ``/s/<token>/``, or Track.DoesNotExist (private, hidden, unknown)."""
    return Track.objects.shared(token).select_related("job", "owner").get()


def gallery_page(*, order: str = "newest", page: int | str = 1) -> Page:
    """One page of public, visible tracks.

    ``newest``: all of them, newest first. ``top``: only tracks with at least
    MIN_RATINGS_FOR_AVERAGE ratings, best mean overall score first (ties: more ratings, then
    newer). Each track carries ``rating_count`` and ``rating_mean``, without the owner's own
    rating.
    """
    qs = Track.objects.public().select_related("owner")
    counted = Q(ratings__listener_owns_track=False)  # owners' own ratings do not count
    qs = qs.annotate(
        rating_count=Count("ratings", filter=counted),
        rating_mean=Avg("ratings__overall", filter=counted),
    )
    if order == "top":
        qs = qs.filter(rating_count__gte=MIN_RATINGS_FOR_AVERAGE).order_by(
            "-rating_mean", "-rating_count", "-created_at", "-id"
        )
    else:
        qs = qs.order_by("-created_at", "-id")
    return Paginator(qs, GALLERY_PAGE_SIZE).get_page(page)


@dataclass(frozen=True)
class RatingSummary:
    """How a track has been rated. Means are None until there are enough ratings."""

    count: int
    overall: float | None
    mood_match: float | None
    style_match: float | None

    @property
    def shown(self) -> bool:
        return self.overall is not None


def rating_summary(track: Track) -> RatingSummary:
    """The track's listeners' averages; the owner's own rating is kept but not counted."""
    agg = Rating.objects.filter(track=track, listener_owns_track=False).aggregate(
        n=Count("id"), overall=Avg("overall"), mood=Avg("mood_match"), style=Avg("style_match")
    )
    if agg["n"] < MIN_RATINGS_FOR_AVERAGE:
        return RatingSummary(agg["n"], None, None, None)
    return RatingSummary(
        agg["n"], round(agg["overall"], 1), round(agg["mood"], 1), round(agg["style"], 1)
    )


def rating_of(*, user, track: Track) -> Rating | None:
    if user is None or not user.is_authenticated:
        return None
    return Rating.objects.filter(track=track, user=user).first()


def my_tracks(*, user, page: int | str = 1) -> Page:
    return Paginator(
        Track.objects.filter(owner=user).order_by("-created_at", "-id"), GALLERY_PAGE_SIZE * 2
    ).get_page(page)


def my_active_jobs(*, user) -> QuerySet[Job]:
    """The user's jobs still waiting or running, oldest first."""
    return Job.objects.filter(owner=user, status__in=Job.ACTIVE).order_by("created_at")


def my_recent_failed_jobs(*, user, limit: int = 5) -> QuerySet[Job]:
    return Job.objects.filter(owner=user, status=Job.Status.FAILED).order_by("-created_at")[:limit]


def reported_tracks() -> QuerySet[Track]:
    """Tracks with open reports (staff view), most reported first."""
    open_reports = Q(reports__resolved=False)
    return (
        Track.objects.annotate(
            open_reports=Count("reports", filter=open_reports)
        )
        .filter(open_reports__gt=0)
        .select_related("owner")
        .prefetch_related(Prefetch(
            "reports", queryset=Report.objects.filter(resolved=False).select_related("reporter"),
            to_attr="open_report_list"))
        .order_by("-open_reports", "-created_at")
    )


def hidden_tracks() -> QuerySet[Track]:
    return Track.objects.filter(hidden=True).select_related("owner", "moderation")


def rating_comments(*, track: Track, limit: int = 50) -> QuerySet[Rating]:
    """The comments listeners left with their ratings, newest first (shown to the owner)."""
    return (
        Rating.objects.filter(track=track).exclude(comment="")
        .select_related("user").order_by("-updated_at")[:limit]
    )


HISTORY_DEPTH = 20  # repairs of repairs, at most this many steps back


def track_history(track: Track, *, user) -> list[dict]:
    """The line of repairs that led to ``track``, oldest first: one entry per step, with
    ``title``, ``change`` ("" for where it started, "bars 5-8 rewritten", "harmonized") and
    ``track`` (None where ``user`` may not open that track, or it was deleted; its name,
    kept in the child's parameters, stays). A track made from scratch has a history of one."""
    steps: list[dict] = []
    current: Track | None = track
    seen: set[int] = set()
    while current is not None and current.pk not in seen and len(steps) < HISTORY_DEPTH:
        seen.add(current.pk)
        steps.append({"track": current, "title": str(current), "change": current.change})
        source = (current.parameters or {}).get("source") or {}
        parent = None
        if current.parent_id:
            parent = Track.objects.filter(id=current.parent_id).first()
        if parent is None and source:  # the parent was deleted: its name is all that is left
            steps.append({"track": None, "title": source.get("title", ""), "change": ""})
            break
        current = parent
    steps.reverse()
    visible = set(Track.objects.visible_by_id_to(user).filter(
        id__in=[s["track"].pk for s in steps if s["track"] is not None]).values_list("id", flat=True))
    for step in steps:
        if step["track"] is not None and step["track"].pk not in visible:
            step["track"] = None
    return steps
