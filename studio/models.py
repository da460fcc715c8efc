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

    # SET_NULL: the rating outlives its track, with its own copy of what the track was made with
    track = models.ForeignKey(
        "generation.Track",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="ratings",
    )
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
    # kept, but left out of averages, the gallery order and the analysis
    listener_owns_track = models.BooleanField(default=False)
    # made by ``manage.py demo_ratings``; never mixed with real answers unless forced
    is_demo = models.BooleanField(default=False)
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


# ---------------------------------------------------------------------------------------------
# Blind listening sessions
# ---------------------------------------------------------------------------------------------
def new_clip_token() -> str:
    """The only name a clip has in pages, URLs and file names: random, says nothing."""
    import secrets

    return secrets.token_urlsafe(12)


REFERENCE_VERSION = "reference"  # the "model version" of human-composed references


class ListeningClip(models.Model):
    """One clip a blind session can play: a public track, a human-composed reference (a
    held-out corpus excerpt rendered like a generated track), or an attention check (random
    notes). It keeps its own copy of what it was made with, so answers about it outlive the
    track it came from."""

    class Kind(models.TextChoices):
        GENERATED = "generated", "Generated track"
        REFERENCE = "reference", "Human-composed reference"
        NOISE = "noise", "Attention check (random notes)"

    token = models.CharField(max_length=32, unique=True, default=new_clip_token)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    track = models.ForeignKey(
        "generation.Track", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # audio relative to MEDIA_ROOT for references and checks ("listening/<token>.mp3");
    # generated clips play their track's audio through the clip's token
    audio = models.CharField(max_length=255, blank=True)
    model_version = models.CharField(max_length=80, blank=True)  # v1, v2, reference, noise
    task_kind = models.CharField(max_length=16, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    is_demo = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"clip {self.pk} ({self.kind})"


class ListeningSession(models.Model):
    """One listener's sitting: answers in the order the clips came."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="listening_sessions",
    )
    # the planned steps: [{"mode": "single", "clip": id, "repeat": bool} |
    #                     {"mode": "pair", "a": id, "b": id}]
    plan = models.JSONField(default=list, blank=True)
    position = models.PositiveSmallIntegerField(default=0)  # steps answered so far
    is_demo = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"listening session {self.pk}"


class BlindRating(models.Model):
    """A rating of one clip heard blind, on the track page's three axes."""

    session = models.ForeignKey(ListeningSession, on_delete=models.CASCADE, related_name="ratings")
    clip = models.ForeignKey(ListeningClip, on_delete=models.PROTECT, related_name="ratings")
    overall = _score_field("overall musical quality")
    mood_match = _score_field("match to the mood")
    style_match = _score_field("fit to the style")
    repeat = models.BooleanField(default=False)  # the second hearing (an attention check)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "clip", "repeat"], name="one_blind_rating_per_hearing"
            ),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{axis}__gte": RATING_MIN, f"{axis}__lte": RATING_MAX}),
                    name=f"blind_{axis}_1_to_5",
                )
                for axis in RATING_AXES
            ],
        ]


PAIR_QUESTIONS = ("more_musical", "fits_mood")


class PairwiseAnswer(models.Model):
    """Which of two clips heard blind is more musical, and which fits the mood better."""

    class Choice(models.TextChoices):
        A = "a", "The first"
        B = "b", "The second"

    session = models.ForeignKey(ListeningSession, on_delete=models.CASCADE, related_name="pairs")
    clip_a = models.ForeignKey(ListeningClip, on_delete=models.PROTECT, related_name="+")
    clip_b = models.ForeignKey(ListeningClip, on_delete=models.PROTECT, related_name="+")
    more_musical = models.CharField(max_length=1, choices=Choice.choices)
    fits_mood = models.CharField(max_length=1, choices=Choice.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "clip_a", "clip_b"], name="one_answer_per_pair"
            ),
        ]
