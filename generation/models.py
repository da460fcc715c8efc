"""Jobs, tracks and worker heartbeats: the database is the source of truth for background work.

Every state change goes through ``generation.services``; these classes only describe rows and
answer simple questions about them (who may see a track, where its files live).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_share_token() -> str:
    """An unguessable token for an unlisted track's link (about 128 bits)."""
    return secrets.token_urlsafe(16)


class Job(models.Model):
    """One request to the engine: compose, continue a seed, transfer a seed's style, rewrite
    chosen bars of a track (infill) or write the harmony under a melody (harmonize)."""

    class Kind(models.TextChoices):
        COMPOSE = "compose", _("Compose from a mood")
        CONTINUE = "continue", _("Continue a MIDI seed")
        TRANSFER = "transfer", _("Transfer a MIDI seed to another style")
        INFILL = "infill", _("Rewrite chosen bars")
        HARMONIZE = "harmonize", _("Harmonize a melody")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINAL = (Status.DONE, Status.FAILED, Status.CANCELLED)

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    parameters = models.JSONField(default=dict, blank=True)
    # relative to MEDIA_ROOT ("jobs/<id>/input.mid"); written by submit_job, never by a form
    input_file = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)  # 0-100
    stage = models.CharField(max_length=80, blank=True)  # what the worker is doing, in words
    error = models.TextField(blank=True)  # a message for people, never a traceback
    attempts = models.PositiveSmallIntegerField(default=0)  # claims so far
    worker_id = models.CharField(max_length=120, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # refreshed while running
    stage_seconds = models.JSONField(default=dict, blank=True)  # {"model": s, ...} of the run
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # when the doorbell message was last put on the channel (null: never sent successfully)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "status"])]

    def __str__(self) -> str:
        return f"Job {self.pk} ({self.kind}, {self.status})"

    @property
    def group_name(self) -> str:
        """The Channels group that receives this job's progress events."""
        return f"job-{self.pk}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL


class TrackQuerySet(models.QuerySet):
    def visible_by_id_to(self, user) -> TrackQuerySet:
        """Tracks a user may open by id (pages, API and files alike): their own, and public
        ones that staff have not hidden. Staff also open any shared (public or unlisted)
        track, hidden or not, to moderate it; nobody else's private track. Unlisted tracks
        of others are otherwise reachable only through ``shared``."""
        public = Q(visibility=Track.Visibility.PUBLIC, hidden=False)
        if user is None or not user.is_authenticated:
            return self.filter(public)
        if user.is_staff:
            public = ~Q(visibility=Track.Visibility.PRIVATE)
        return self.filter(public | Q(owner=user))

    def public(self) -> TrackQuerySet:
        """The gallery's tracks: public and not hidden."""
        return self.filter(visibility=Track.Visibility.PUBLIC, hidden=False)

    def shared(self, token: str) -> TrackQuerySet:
        """The unlisted or public track behind a share link (never a private one)."""
        if not token:
            return self.none()
        return self.filter(share_token=token, hidden=False).exclude(
            visibility=Track.Visibility.PRIVATE)


class Track(models.Model):
    """One generated piece (one variant of a job) with its renderings on disk."""

    class Visibility(models.TextChoices):
        PRIVATE = "private", _("Private")
        UNLISTED = "unlisted", _("Unlisted (anyone with the link)")
        PUBLIC = "public", _("Public (in the gallery)")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracks"
    )
    job = models.ForeignKey(
        Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="tracks"
    )
    # the track this one was made from by a repair (infill or harmonize); its parameters keep
    # the source's title and owner ("source"), which outlive the parent row
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="derived"
    )
    variant = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=200, blank=True)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    share_token = models.CharField(max_length=64, unique=True, default=new_share_token)
    # Hidden by staff after reports (studio moderation keeps who and why): out of the gallery,
    # and its pages, API and files answer 404 to everyone but the owner and staff.
    hidden = models.BooleanField(default=False, db_index=True)
    parameters = models.JSONField(default=dict, blank=True)  # what was asked for
    attributes = models.JSONField(default=dict, blank=True)  # what the music measures as
    model_version = models.CharField(max_length=80, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    # {"midi": "tracks/<id>/track.mid", "svg": ["tracks/<id>/score-1.svg", ...], ...}
    files = models.JSONField(default=dict, blank=True)
    size_bytes = models.BigIntegerField(default=0)  # all files together, for the storage cap
    duration_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TrackQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # tracks are made once, when the job finishes; two rows for one variant would be a
            # duplicate (a message delivered twice)
            models.UniqueConstraint(fields=["job", "variant"], name="one_track_per_job_variant"),
        ]

    @property
    def is_example(self) -> bool:
        """One of the example tracks of a new install (manage.py seed_examples)."""
        return self.owner.get_username() == settings.STUDIO_EXAMPLES_ACCOUNT

    def __str__(self) -> str:
        return self.title or f"Track {self.pk}"

    @property
    def kind(self) -> str:
        """compose / continue / transfer: the request's own record, else its job's ("" when
        neither is known, e.g. the job was deleted)."""
        return (self.parameters or {}).get("kind") or (self.job.kind if self.job_id else "")

    @property
    def change(self) -> str:
        """What a repair changed in its parent ("bars 5-8 rewritten", "harmonized"); ""
        for a track made from scratch."""
        return str((self.parameters or {}).get("change") or "")

    @property
    def media_dir(self) -> str:
        """This track's folder, relative to MEDIA_ROOT."""
        return f"tracks/{self.pk}"


class WorkerHeartbeat(models.Model):
    """The last sign of life of one worker process (``runworker generation``)."""

    worker_id = models.CharField(max_length=120, unique=True)
    last_beat = models.DateTimeField(db_index=True)
    busy = models.BooleanField(default=False)
    job_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.worker_id} ({'busy' if self.busy else 'idle'})"


class ApiToken(models.Model):
    """A bearer token for programs (``Authorization: Token <key>``).

    Only a SHA-256 digest of the key is stored, so a leaked database does not leak working
    tokens; ``manage.py issue_token`` prints the key once, when it is made. A token works for
    STUDIO_API_TOKEN_DAYS after it is made; a password change or reset deletes the user's
    tokens (accounts.services.revoke_api_tokens).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token of {self.user} ({self.digest[:8]}…)"

    @staticmethod
    def digest_of(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    @staticmethod
    def oldest_valid():
        """Tokens made at or before this moment have expired."""
        return timezone.now() - timedelta(days=settings.STUDIO_API_TOKEN_DAYS)

    @property
    def expires_at(self):
        return self.created_at + timedelta(days=settings.STUDIO_API_TOKEN_DAYS)
