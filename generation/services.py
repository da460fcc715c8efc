"""Every state change of a job, a track and a worker happens here, and only here.

The channel message is a doorbell; the database row is the truth:
- ``submit_job`` writes a queued Job and rings the doorbell on commit (a full or unreachable
  channel leaves it queued; recovery rings again).
- ``claim_job`` is one conditional UPDATE queued -> running; a second delivery of the same
  job claims nothing. ``claim_next_job`` is what an idle worker calls: the doorbell names a
  job, but the worker takes the fairest queued one from the database.
- ``report_progress`` / ``finish_job`` / ``fail_job`` change only a job that is still
  running *on the calling worker*, so a worker that lost its job (cancelled, or re-queued
  after it looked dead) can never write over the job's next run.
- ``recover_jobs`` (worker start and every few seconds, in every worker; all its updates are
  conditional so workers running it at once do not double anything) re-rings queued jobs
  nobody claimed, re-queues running jobs whose worker stopped beating, and fails a job that
  has been tried ``STUDIO_MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from generation import storage
from generation.ml import engines
from generation.models import Job, Track, WorkerHeartbeat, new_share_token
from generation.pipeline import (
    REPAIR_KINDS,
    InvalidJob,
    Variant,
    assign_version,
    clean_parameters,
)

log = logging.getLogger(__name__)

GENERATION_CHANNEL = "generation"
RESEND_BATCH = 20  # doorbells rung again per recovery pass, at most (rate limit)
NEVER_SENT_GRACE_SECONDS = 2  # let submit's own on-commit send happen first


class QuotaExceeded(Exception):
    """A limit was reached (answer 429); the message says which, for people."""


class InvalidTransition(Exception):
    """The job or track is not in a state that allows this (answer 409)."""


__all__ = [
    "InvalidJob",
    "InvalidTransition",
    "QuotaExceeded",
    "submit_job",
    "submit_track_job",
    "inspect_upload",
    "claim_job",
    "claim_fair_job",
    "claim_next_job",
    "report_progress",
    "finish_job",
    "fail_job",
    "cancel_job",
    "requeue_job",
    "recover_jobs",
    "beat",
    "forget_worker",
    "live_worker_count",
    "delete_track",
    "delete_user_content",
    "set_visibility",
    "new_share_link",
    "storage_used_bytes",
    "compute_seconds_today",
]


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _remove_folder(relative: str) -> None:
    """Remove a folder under MEDIA_ROOT or the bucket; refuses anything that would leave it."""
    storage.remove_folder(relative)


def job_folder(job_id: int) -> str:
    return f"jobs/{job_id}"


def job_input_path(job: Job) -> Path | None:
    """The job's uploaded seed as a local file, only where submit_job puts it: a file inside
    the job's own folder (symbolic links resolved; with object storage, a copy fetched into
    the worker's staging area). None otherwise, so that a row edited by hand or by a bug
    cannot make the worker read any other file."""
    if not job.input_file:
        return None
    folder = job_folder(job.id)
    if not job.input_file.startswith(folder + "/"):
        return None
    if storage.remote():
        name = Path(job.input_file).name
        return storage.fetch(job.input_file, media_root() / "staging" / f"input-{job.id}" / name)
    root = media_root().resolve()
    path = (root / job.input_file).resolve()
    if root / folder not in path.parents or not path.is_file():
        return None
    return path


def _remove_job_files(job_id: int) -> None:
    """The job's own folder (its upload and staging). An active job has no tracks yet: they
    are made only by ``finish_job``, in the one transition to DONE, which is final."""
    _remove_folder(job_folder(job_id))
    shutil.rmtree(media_root() / "staging" / f"input-{job_id}", ignore_errors=True)
    _sweep_unfinished_publish(job_id)  # and what a killed attempt moved into tracks/


def _channel_layer():
    from channels.layers import get_channel_layer

    return get_channel_layer()


def ring_doorbell(job_id: int) -> bool:
    """Put ``job.run`` for ``job_id`` on the generation channel; True when it was sent.

    A full channel or an unreachable Redis is logged, not raised: the job stays queued and
    recovery rings again later.
    """
    from channels.exceptions import ChannelFull

    try:
        async_to_sync(_channel_layer().send)(
            GENERATION_CHANNEL, {"type": "job.run", "job_id": job_id}
        )
    except ChannelFull:
        log.warning("generation channel full; job %s stays queued for recovery", job_id)
        return False
    except Exception as exc:
        log.warning("could not send job %s to the channel (%s); recovery will", job_id, exc)
        return False
    Job.objects.filter(id=job_id, status=Job.Status.QUEUED).update(last_sent_at=timezone.now())
    return True


def job_state(job: Job) -> dict[str, Any]:
    """What the API and the websocket say about a job."""
    # .all() uses a prefetch when the caller made one (the job list), one query otherwise
    track_ids = [t.id for t in sorted(job.tracks.all(), key=lambda t: t.variant)]
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "stage": job.stage,
        "error": job.error or None,
        "attempts": job.attempts,
        "tracks": track_ids,
        "track": track_ids[0] if track_ids else None,
    }


def _announce(job_id: int) -> None:
    """Tell the job's websocket group its state (best effort: progress is not state)."""
    job = Job.objects.filter(id=job_id).first()
    if job is None:
        return
    try:
        async_to_sync(_channel_layer().group_send)(
            job.group_name, {"type": "job.progress", "state": job_state(job)}
        )
    except Exception as exc:
        log.debug("progress event for job %s not sent: %s", job_id, exc)


def _announce_on_commit(job_id: int) -> None:
    transaction.on_commit(lambda: _announce(job_id))


# ---------------------------------------------------------------------------------------------
# submission and limits
# ---------------------------------------------------------------------------------------------
def storage_used_bytes(*, user) -> int:
    tracks = Track.objects.filter(owner=user).aggregate(total=Sum("size_bytes"))["total"] or 0
    inputs = sum(
        int(p.get("input_bytes", 0))
        for p in Job.objects.filter(owner=user, status__in=Job.ACTIVE).values_list(
            "parameters", flat=True
        )
    )
    return int(tracks) + inputs


def _start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def work_seconds_since(since: datetime, *, owners=None, now: datetime | None = None
                       ) -> dict[int, float]:
    """Seconds of worker time per owner id since ``since``: each job from its (latest) start,
    or ``since``, to its end, or now while it runs. ``owners``: only these owner ids."""
    now = now or timezone.now()
    jobs = Job.objects.filter(started_at__isnull=False).filter(
        Q(finished_at__isnull=True, status=Job.Status.RUNNING) | Q(finished_at__gte=since)
    )
    if owners is not None:
        jobs = jobs.filter(owner_id__in=list(owners))
    totals: dict[int, float] = {}
    for owner_id, started, finished in jobs.values_list("owner_id", "started_at", "finished_at"):
        seconds = max(0.0, ((finished or now) - max(started, since)).total_seconds())
        totals[owner_id] = totals.get(owner_id, 0.0) + seconds
    return totals


def compute_seconds_today(*, user, now: datetime | None = None) -> float:
    """Seconds of worker time the user's jobs have used since midnight UTC (running jobs up
    to now)."""
    now = now or timezone.now()
    return work_seconds_since(_start_of_day(now), owners=[user.pk], now=now).get(user.pk, 0.0)


def _check_limits(user, incoming_bytes: int) -> None:
    from accounts.services import email_verified

    if not email_verified(user):
        raise QuotaExceeded(
            f"Confirm your email address first: open the link we sent to {user.email} "
            "(your profile page can send it again)."
        )
    per_user = _setting("STUDIO_MAX_ACTIVE_JOBS_PER_USER", 3)
    if Job.objects.filter(owner=user, status__in=Job.ACTIVE).count() >= per_user:
        raise QuotaExceeded(
            f"You already have {per_user} jobs waiting or running; wait for one to finish."
        )
    cap = _setting("STUDIO_USER_STORAGE_MB", 200) * 1024 * 1024
    if storage_used_bytes(user=user) + incoming_bytes >= cap:
        raise QuotaExceeded("Your storage is full; delete some tracks to make room.")
    budget = _setting("STUDIO_DAILY_COMPUTE_SECONDS", 1800)
    if compute_seconds_today(user=user) >= budget:
        now = timezone.now()
        left = _start_of_day(now) + timedelta(days=1) - now
        hours, minutes = divmod(int(left.total_seconds()) // 60 + 1, 60)
        raise QuotaExceeded(
            f"You have used today's generation time ({budget // 60} minutes of worker time). "
            f"It renews at midnight UTC, in {hours} h {minutes} min."
        )
    queue_cap = _setting("STUDIO_MAX_QUEUE", 50)
    if Job.objects.filter(status=Job.Status.QUEUED).count() >= queue_cap:
        raise QuotaExceeded("The studio is busy right now; please try again in a few minutes.")


PARSE_RATE_WINDOW_SECONDS = 60


def _count_parse(user) -> None:
    """Count one MIDI upload of the user in this minute; QuotaExceeded past
    STUDIO_MIDI_PARSES_PER_MINUTE (each upload may start a parse child)."""
    from django.core.cache import cache

    window = int(time.time() // PARSE_RATE_WINDOW_SECONDS)
    key = f"midi-parses:{user.pk}:{window}"
    cache.add(key, 0, timeout=PARSE_RATE_WINDOW_SECONDS + 5)
    if cache.incr(key) > _setting("STUDIO_MIDI_PARSES_PER_MINUTE", 20):
        raise QuotaExceeded("Too many MIDI files in a minute; wait a moment and try again.")


def inspect_upload(*, user, midi_bytes: bytes) -> dict:
    """The summary of an uploaded MIDI file for the compose page, after the same quota and
    parse-rate checks as a submission. Raises QuotaExceeded, InvalidJob (InvalidMidi) or
    EngineUnavailable (ParserBusy when every parse slot is taken)."""
    from generation.pipeline import midi_summary

    _check_limits(user, len(midi_bytes))
    _count_parse(user)
    return midi_summary(midi_bytes)


def submit_job(*, user, kind: str, params: dict[str, Any], midi_bytes: bytes | None = None,
               source: Track | None = None, model_version: str | None = None,
               visibility: str | None = None) -> Job:
    """Validate a request, write a queued Job, and ring the doorbell once it is committed.

    ``source``: the track the request is made from (regenerate, continue, transfer); when
    staff have hidden it, the new tracks are hidden too, so that moderation is not undone by
    making a copy and publishing that.

    The composition model's version is fixed here and stored in the parameters ("model"):
    ``model_version`` when given (regenerate keeps its track's), else one drawn by the A/B
    shares (STUDIO_MODEL_SHARES). Style transfer uses no composition model.

    Raises InvalidJob (nothing queued), QuotaExceeded (nothing queued), or EngineUnavailable
    when the mood reader / MIDI reader the request needs is missing.
    """
    if midi_bytes:
        # quotas before the parse: a user who may not queue anything costs no parse child
        _check_limits(user, len(midi_bytes))
        _count_parse(user)
    # validation (mood reader, MIDI parse) runs before the transaction: SQLite takes its
    # write lock at BEGIN, and other writers should not wait for a MIDI parse
    clean = clean_parameters(kind, params, midi_bytes)
    if midi_bytes:
        clean["input_bytes"] = len(midi_bytes)
    if source is not None and source.hidden:
        clean["from_hidden_track"] = source.id
    if visibility is not None:  # what the tracks are made as (private when not said)
        if visibility not in Track.Visibility.values:
            raise InvalidJob(f"visibility must be one of {', '.join(Track.Visibility.values)}.")
        clean["visibility"] = visibility
    if kind != Job.Kind.TRANSFER and kind not in REPAIR_KINDS:
        if model_version and model_version not in engines.VERSIONS:
            raise InvalidJob(f"model must be one of {', '.join(engines.VERSIONS)}.")
        clean["model"] = model_version or assign_version()
    if source is not None and kind in REPAIR_KINDS:
        # the result names its source, even after the source is deleted or made private
        clean["source"] = {"id": source.id, "title": str(source)[:200],
                           "owner": source.owner.get_username()}
    return _create_job(user=user, kind=kind, clean=clean, midi_bytes=midi_bytes)


def _made_as(parameters: dict | None) -> str:
    visibility = (parameters or {}).get("visibility")
    return visibility if visibility in Track.Visibility.values else Track.Visibility.PRIVATE


def submit_track_job(*, user, kind: str, track_id: int, params: dict[str, Any]) -> Job:
    """A repair (infill, harmonize) of a track the user may open by id: their own, or a
    public one, whose remix then belongs to ``user`` and names its source. Anything else
    raises Track.DoesNotExist, exactly like a track that does not exist (answer 404)."""
    if kind not in REPAIR_KINDS:
        raise InvalidJob(f"Only {' and '.join(REPAIR_KINDS)} are made from a track.")
    from django.http import Http404

    from generation.files import track_file_path

    source = Track.objects.visible_by_id_to(user).select_related("owner").get(id=track_id)
    try:
        midi = track_file_path(source, "midi").read_bytes()
    except (Http404, OSError):  # no MIDI file recorded, or gone from the disk
        raise InvalidJob("This track has no MIDI file to work from.") from None
    from generation.pipeline import remember_own_midi

    remember_own_midi(midi)
    return submit_job(user=user, kind=kind, params=params, midi_bytes=midi, source=source)


@transaction.atomic
def _create_job(*, user, kind: str, clean: dict[str, Any], midi_bytes: bytes | None) -> Job:
    # Count-then-insert is raced by parallel submissions unless they queue up: lock the
    # owner's row first (PostgreSQL: SELECT ... FOR UPDATE, held to commit). SQLite ignores
    # the lock, but its IMMEDIATE transactions already admit one writer at a time.
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    _check_limits(user, len(midi_bytes or b""))
    job = Job.objects.create(owner=user, kind=kind, parameters=clean, stage="waiting for a worker")
    if midi_bytes:
        relative = f"{job_folder(job.id)}/input.mid"
        storage.save_bytes(relative, midi_bytes)
        job.input_file = relative
        job.save(update_fields=["input_file"])
    job_id = job.id
    transaction.on_commit(lambda: ring_doorbell(job_id))
    log.info("job %s submitted by user %s (%s)", job_id, user.pk, kind)
    return job


# ---------------------------------------------------------------------------------------------
# the worker's side
# ---------------------------------------------------------------------------------------------
@transaction.atomic
def claim_job(*, job_id: int, worker_id: str) -> Job | None:
    """Take a queued job for ``worker_id``: one conditional UPDATE. None if someone else has
    it, it was cancelled, or it is done (a duplicate delivery)."""
    now = timezone.now()
    claimed = Job.objects.filter(id=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING,
        worker_id=worker_id,
        heartbeat_at=now,
        started_at=now,
        attempts=F("attempts") + 1,
        progress=0,
        stage="starting",
        error="",
    )
    if claimed != 1:
        return None
    _announce_on_commit(job_id)
    return Job.objects.get(id=job_id)


FAIR_WINDOW = timedelta(hours=1)


def next_fair_job_id(*, now: datetime | None = None) -> int | None:
    """The queued job a free worker should take: the oldest job of the owner whose jobs had
    the least worker time in the last hour (running ones count up to now), so that a few
    users with full queues cannot keep everyone else's jobs waiting behind theirs. Ties go
    to the owner whose oldest job has waited longest."""
    now = now or timezone.now()
    oldest: dict[int, tuple] = {}  # owner -> (created, id) of their oldest queued job
    queued = Job.objects.filter(status=Job.Status.QUEUED).order_by("created_at", "id")
    for job_id, owner_id, created in queued.values_list("id", "owner_id", "created_at")[:500]:
        oldest.setdefault(owner_id, (created, job_id))
    if not oldest:
        return None
    recent = work_seconds_since(now - FAIR_WINDOW, owners=oldest.keys(), now=now)
    owner = min(oldest, key=lambda o: (recent.get(o, 0.0), oldest[o]))
    return oldest[owner][1]


def claim_fair_job(*, rung_job_id: int, worker_id: str) -> Job | None:
    """What a worker does when a doorbell rings: claim the fairest queued job (see
    ``next_fair_job_id``), which is often not the one the doorbell named; that one keeps its
    place, and a later doorbell (each queued job has one, and recovery rings again) serves
    it. Falls back to the rung job when another worker took the fair one first."""
    fair = next_fair_job_id()
    if fair is not None and fair != rung_job_id:
        job = claim_job(job_id=fair, worker_id=worker_id)
        if job is not None:
            return job
    return claim_job(job_id=rung_job_id, worker_id=worker_id)


CLAIM_TRIES = 5  # fair picks lost to other workers before taking any unlocked queued job


def claim_next_job(*, worker_id: str) -> Job | None:
    """What an idle worker does, doorbell or not: claim the fairest queued job in the
    database (``next_fair_job_id``); None when nothing is queued.

    Exactly once: each claim is ``claim_job``'s conditional UPDATE, which on PostgreSQL waits
    for a competing claim's row lock and then re-checks ``status = queued``. A worker that
    keeps losing the fair pick to others takes the oldest queued row nobody has locked
    (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer anyway).
    """
    for _ in range(CLAIM_TRIES):
        job_id = next_fair_job_id()
        if job_id is None:
            return None
        job = claim_job(job_id=job_id, worker_id=worker_id)
        if job is not None:
            return job
    with transaction.atomic():
        free = (
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=Job.Status.QUEUED)
            .order_by("created_at", "id")
            .values_list("id", flat=True)
            .first()
        )
        return claim_job(job_id=free, worker_id=worker_id) if free is not None else None


@transaction.atomic
def report_progress(*, job_id: int, worker_id: str, progress: int, stage: str) -> bool:
    """Record progress; False when the job is no longer running on this worker (stop)."""
    updated = Job.objects.filter(id=job_id, status=Job.Status.RUNNING, worker_id=worker_id).update(
        progress=max(0, min(100, int(progress))), stage=stage[:80], heartbeat_at=timezone.now()
    )
    if updated:
        _announce_on_commit(job_id)
    return updated == 1


def _variant_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def finish_job(
    *,
    job_id: int,
    worker_id: str,
    variants: list[Variant],
    stage_seconds: dict[str, float] | None = None,
) -> list[Track] | None:
    """Turn staged variants into Tracks and mark the job done, exactly once.

    The job must still be running on ``worker_id``; otherwise nothing is written and None is
    returned (the caller discards its staging). Only this transition makes tracks, and DONE
    is final, so a job gets its tracks once.
    """
    _sweep_unfinished_publish(job_id)
    moved: list[str] = []
    try:
        with transaction.atomic():
            done = Job.objects.filter(
                id=job_id, status=Job.Status.RUNNING, worker_id=worker_id
            ).update(
                status=Job.Status.DONE,
                progress=100,
                stage="done",
                error="",
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
                stage_seconds=stage_seconds or {},
            )
            if done != 1:
                return None
            job = Job.objects.get(id=job_id)
            source_id = ((job.parameters or {}).get("source") or {}).get("id")
            # the source may have been deleted while the job ran: then the name stays
            parent_id = source_id if Track.objects.filter(id=source_id).exists() else None
            tracks: list[Track] = []
            for v in variants:
                track = Track.objects.create(
                    owner_id=job.owner_id,
                    job=job,
                    parent_id=parent_id,
                    variant=v.number,
                    title=v.title[:200],
                    parameters=job.parameters,
                    hidden=bool((job.parameters or {}).get("from_hidden_track")),
                    visibility=_made_as(job.parameters),
                    attributes=v.attributes,
                    model_version=v.model_version,
                    seed=v.seed,
                    duration_seconds=v.duration_seconds,
                    size_bytes=_variant_size(v.folder),
                )
                moved.append(track.media_dir)
                # written down before the move: a worker killed before the commit leaves
                # folders of rows that never were, and the job's next finish removes them
                storage.save_bytes(_publishing_note(job_id), json.dumps(moved).encode())
                storage.publish_folder(v.folder, track.media_dir)
                track.files = _prefix_files(v.files, track.media_dir)
                track.save(update_fields=["files"])
                tracks.append(track)
            _announce_on_commit(job_id)
    except Exception:
        for folder in moved:  # rows rolled back: their files must go too
            storage.remove_folder(folder)
        storage.delete(_publishing_note(job_id))
        raise
    if moved:
        storage.delete(_publishing_note(job_id))
    log.info("job %s done: %d track(s)", job_id, len(tracks))
    return tracks


def _publishing_note(job_id: int) -> str:
    return f"staging/job-{job_id}-publishing.json"


def _sweep_unfinished_publish(job_id: int) -> None:
    """Remove the track folders an earlier attempt of the job moved into place but never
    committed rows for (its worker was killed between the two). On PostgreSQL the next
    attempt's tracks get new ids, so nothing would ever overwrite those folders."""
    data = storage.read_bytes(_publishing_note(job_id))
    if data is None:
        return
    try:
        folders = [str(f) for f in json.loads(data)]
    except ValueError:
        folders = []
    for folder in folders:
        _, _, pk = folder.rpartition("/")
        if folder.startswith("tracks/") and pk.isdigit() and not Track.objects.filter(
                id=int(pk)).exists():
            storage.remove_folder(folder)
            log.info("job %s: removed %s, moved by an attempt that never finished", job_id,
                     folder)
    storage.delete(_publishing_note(job_id))


def _prefix_files(files: dict[str, Any], prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in files.items():
        if isinstance(value, list):
            out[key] = [f"{prefix}/{name}" for name in value]
        else:
            out[key] = f"{prefix}/{value}"
    return out


@transaction.atomic
def fail_job(*, job_id: int, message: str, worker_id: str | None = None) -> bool:
    """Mark an active job failed with a message for people; remove its files. With
    ``worker_id``, only if it is still running there."""
    qs = Job.objects.filter(id=job_id, status__in=Job.ACTIVE)
    if worker_id is not None:
        qs = qs.filter(status=Job.Status.RUNNING, worker_id=worker_id)
    failed = qs.update(
        status=Job.Status.FAILED, error=message[:2000], stage="failed", finished_at=timezone.now()
    )
    if failed:
        transaction.on_commit(lambda: _remove_job_files(job_id))
        _announce_on_commit(job_id)
        log.info("job %s failed: %s", job_id, message)
    return failed == 1


@transaction.atomic
def requeue_job(*, job_id: int, worker_id: str, reason: str) -> bool:
    """Give a running job back to the queue because its worker is shutting down; the
    attempt is not counted (the job did nothing wrong)."""
    updated = Job.objects.filter(id=job_id, status=Job.Status.RUNNING, worker_id=worker_id).update(
        status=Job.Status.QUEUED,
        worker_id="",
        heartbeat_at=None,
        last_sent_at=None,
        progress=0,
        stage=reason[:80],
        attempts=F("attempts") - 1,
    )
    if updated:
        transaction.on_commit(lambda: ring_doorbell(job_id))
        _announce_on_commit(job_id)
    return updated == 1


@transaction.atomic
def cancel_job(*, job_id: int, user) -> Job:
    """Cancel the user's waiting or running job (a running one stops at its next stage).

    Raises Job.DoesNotExist for someone else's job and InvalidTransition for a finished one.
    """
    job = Job.objects.get(id=job_id, owner=user)
    cancelled = Job.objects.filter(id=job_id, status__in=Job.ACTIVE).update(
        status=Job.Status.CANCELLED, stage="cancelled", finished_at=timezone.now()
    )
    if not cancelled:
        raise InvalidTransition(f"This job is already {job.get_status_display().lower()}.")
    transaction.on_commit(lambda: _remove_job_files(job_id))
    _announce_on_commit(job_id)
    job.refresh_from_db()
    return job


# ---------------------------------------------------------------------------------------------
# heartbeats and recovery
# ---------------------------------------------------------------------------------------------
def beat(*, worker_id: str, busy: bool, job_id: int | None = None) -> None:
    """Record that ``worker_id`` is alive (and refresh its running job's heartbeat)."""
    now = timezone.now()
    with transaction.atomic():
        updated = WorkerHeartbeat.objects.filter(worker_id=worker_id).update(
            last_beat=now, busy=busy, job_id=job_id
        )
        if not updated:
            WorkerHeartbeat.objects.create(
                worker_id=worker_id, last_beat=now, busy=busy, job_id=job_id
            )
        if job_id is not None:
            Job.objects.filter(id=job_id, status=Job.Status.RUNNING, worker_id=worker_id).update(
                heartbeat_at=now
            )


def forget_worker(*, worker_id: str) -> None:
    """A worker that exits cleanly removes its heartbeat so /healthz stops counting it."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def live_worker_count(*, now: datetime | None = None) -> int:
    """Workers that beat within the stale limit (what /healthz reports)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=_setting("STUDIO_STALE_WORKER_SECONDS", 30))
    return WorkerHeartbeat.objects.filter(last_beat__gte=cutoff).count()


def recover_jobs(*, now: datetime | None = None) -> dict[str, int]:
    """One recovery pass; returns counts ``{"requeued", "failed", "resent"}``.

    - a running job whose heartbeat is older than STUDIO_STALE_WORKER_SECONDS is re-queued,
      or failed with a clear message once it has had STUDIO_MAX_ATTEMPTS attempts;
    - a queued job whose doorbell was never sent, or was sent more than
      STUDIO_RESEND_AFTER_SECONDS ago and nobody claimed it, is sent again, at most
      RESEND_BATCH per pass and at most once per job per STUDIO_RESEND_AFTER_SECONDS.
    """
    now = now or timezone.now()
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    stale_cutoff = now - timedelta(seconds=_setting("STUDIO_STALE_WORKER_SECONDS", 30))
    max_attempts = _setting("STUDIO_MAX_ATTEMPTS", 3)
    stale = Job.objects.filter(status=Job.Status.RUNNING).filter(
        Q(heartbeat_at__lt=stale_cutoff) | Q(heartbeat_at__isnull=True)
    )
    for job in stale.only("id", "attempts", "worker_id", "heartbeat_at"):
        with transaction.atomic():
            same = Job.objects.filter(
                id=job.id,
                status=Job.Status.RUNNING,
                worker_id=job.worker_id,
                heartbeat_at=job.heartbeat_at,
            )
            if job.attempts >= max_attempts:
                message = (
                    f"This job stopped unexpectedly {job.attempts} times (the worker "
                    "running it stopped responding), so it was not tried again."
                )
                if same.update(
                    status=Job.Status.FAILED, error=message, stage="failed", finished_at=now
                ):
                    job_id = job.id
                    transaction.on_commit(lambda job_id=job_id: _remove_job_files(job_id))
                    _announce_on_commit(job.id)
                    counts["failed"] += 1
                    log.warning("job %s failed after %s attempts", job.id, job.attempts)
            elif same.update(
                status=Job.Status.QUEUED,
                worker_id="",
                heartbeat_at=None,
                last_sent_at=None,
                progress=0,
                stage="waiting for a worker (retrying)",
            ):
                _announce_on_commit(job.id)
                counts["requeued"] += 1
                log.warning("job %s re-queued: worker %s stopped beating", job.id, job.worker_id)

    resend_cutoff = now - timedelta(seconds=_setting("STUDIO_RESEND_AFTER_SECONDS", 60))
    never_cutoff = now - timedelta(seconds=NEVER_SENT_GRACE_SECONDS)
    waiting = (
        Job.objects.filter(status=Job.Status.QUEUED)
        .filter(
            Q(last_sent_at__isnull=True, created_at__lt=never_cutoff)
            | Q(last_sent_at__isnull=True, started_at__isnull=False)  # re-queued: send at once
            | Q(last_sent_at__lt=resend_cutoff)
        )
        .order_by("created_at")
    )
    for job in waiting.only("id", "last_sent_at")[:RESEND_BATCH]:
        # take the right to ring with a conditional update, so two recovering workers do not
        # both ring for the same job in the same window
        if not Job.objects.filter(
            id=job.id, status=Job.Status.QUEUED, last_sent_at=job.last_sent_at
        ).update(last_sent_at=now):
            continue
        if ring_doorbell(job.id):
            counts["resent"] += 1
        else:
            Job.objects.filter(id=job.id, last_sent_at=now).update(last_sent_at=job.last_sent_at)
            break  # the channel is full or unreachable: stop ringing for this pass
    # heartbeats of workers long gone are noise in the admin
    WorkerHeartbeat.objects.filter(last_beat__lt=now - timedelta(days=1)).delete()
    _remove_abandoned_staging(now)
    return counts


STAGING_MAX_AGE = timedelta(hours=6)  # far longer than any job runs


def _remove_abandoned_staging(now: datetime) -> None:
    """Staging folders of workers killed mid-render are never finished; remove old ones."""
    staging = media_root() / "staging"
    if not staging.is_dir():
        return
    cutoff = (now - STAGING_MAX_AGE).timestamp()
    for folder in staging.iterdir():
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:  # another worker's recovery got there first
            continue


# ---------------------------------------------------------------------------------------------
# tracks and accounts
# ---------------------------------------------------------------------------------------------
@transaction.atomic
def delete_track(*, track_id: int, user) -> None:
    """Delete the user's track and its files. Raises Track.DoesNotExist for anyone else."""
    track = Track.objects.get(id=track_id, owner=user)
    folder = track.media_dir
    track.delete()
    transaction.on_commit(lambda: _remove_folder(folder))


@transaction.atomic
def set_visibility(*, track_id: int, user, visibility: str) -> Track:
    """Change who can see a track. Raises Track.DoesNotExist / InvalidJob."""
    if visibility not in Track.Visibility.values:
        raise InvalidJob(f"visibility must be one of {', '.join(Track.Visibility.values)}.")
    track = Track.objects.get(id=track_id, owner=user)
    fields = ["visibility"]
    if visibility == Track.Visibility.UNLISTED and track.visibility != visibility:
        # each time a track becomes unlisted it gets a new link, so that a link given out
        # before it was made private (or public) is not revived by sharing it again
        track.share_token = new_share_token()
        fields.append("share_token")
    track.visibility = visibility
    track.save(update_fields=fields)
    return track


def new_share_link(*, track_id: int, user) -> Track:
    """Give the owner's track a new share token: every link given out so far stops working.
    Raises Track.DoesNotExist for a track that is not the user's."""
    track = Track.objects.get(id=track_id, owner=user)
    track.share_token = new_share_token()
    track.save(update_fields=["share_token"])
    return track


@transaction.atomic
def delete_user_content(*, user) -> None:
    """Cancel the user's active jobs and remove all their jobs' and tracks' files (the rows
    go with the user)."""
    jobs = list(Job.objects.filter(owner=user).values_list("id", flat=True))
    Job.objects.filter(owner=user, status__in=Job.ACTIVE).update(
        status=Job.Status.CANCELLED, stage="cancelled", finished_at=timezone.now()
    )
    track_dirs = [t.media_dir for t in Track.objects.filter(owner=user)]

    def remove() -> None:
        for folder in track_dirs:
            _remove_folder(folder)
        for job_id in jobs:
            _remove_folder(job_folder(job_id))

    transaction.on_commit(remove)
