"""What listeners say about tracks: ratings (the project's evaluation data), reports, and
moderation.

Ratings copy what the track was made with (model version, task kind, parameters) at the time
of rating, so that later analysis reads one table and never depends on a track that has been
deleted or regenerated. A listener's account may be deleted; their ratings stay, anonymous.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

RATING_AXES = ("overall", "mood_match", "style_match")
RATING_MIN, RATING_MAX = 1, 5
# averages are shown only from this many ratings on: fewer say nothing about a track
MIN_RATINGS_FOR_AVERAGE = 3


def _score_field(verbose_name: str) -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(verbose_name)


class Rating(models.Model):
    """One listener's rating of one track on three axes (1-5). Editable, never duplicated."""

    track = models.ForeignKey("generation.Track", on_delete=models.CASCADE, related_name="ratings")
    # SET_NULL: a deleted account's ratings remain as anonymous evaluation data
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ratings",
    )
    overall = _score_field("overall musical quality")
    mood_match = _score_field("match to the requested mood")
    style_match = _score_field("fit to the requested style")
    comment = models.TextField(blank=True, max_length=2000)
    # copied from the track when the rating is saved
    model_version = models.CharField(max_length=80, blank=True)
    task_kind = models.CharField(max_length=16, blank=True)  # compose | continue | transfer
    parameters = models.JSONField(default=dict, blank=True)
    listener_owns_track = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["track", "user"], name="one_rating_per_listener"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{axis}__gte": RATING_MIN, f"{axis}__lte": RATING_MAX}),
                    name=f"rating_{axis}_1_to_5",
                )
                for axis in RATING_AXES
            ],
        ]
        indexes = [models.Index(fields=["model_version"])]

    def __str__(self) -> str:
        return f"{self.user or 'anonymous'} on track {self.track_id}: {self.overall}/5"


class Report(models.Model):
    """A listener's report that a public track should not be in the gallery."""

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="track_reports",
    )
    track = models.ForeignKey("generation.Track", on_delete=models.CASCADE, related_name="reports")
    reason = models.TextField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved = models.BooleanField(default=False, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # one open report per person per track; a second click is not a second voice
            models.UniqueConstraint(
                fields=["reporter", "track"],
                condition=Q(resolved=False),
                name="one_open_report_per_reporter",
            ),
        ]

    def __str__(self) -> str:
        return f"report on track {self.track_id}"


class TrackModeration(models.Model):
    """Staff decisions about a track, kept beside the Track (which the jobs layer owns).

    A hidden track leaves the gallery and its public/share pages answer 404 to everyone but
    its owner and staff.
    """

    track = models.OneToOneField(
        "generation.Track", on_delete=models.CASCADE, related_name="moderation"
    )
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    hidden_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"moderation of track {self.track_id} ({'hidden' if self.track.hidden else 'shown'})"
