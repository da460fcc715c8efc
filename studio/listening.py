"""Blind listening sessions: plan a session, hand out its steps one at a time, store the
answers. Pages call these; nothing here renders HTML.

A session's clips come only from public, visible tracks of other people and from the stored
human-composed references; it may also hold an attention check (random notes) and a second
hearing of its first clip. The plan keeps clip ids; pages and URLs see clip tokens only, and
the audio is served under the token with no name (``clip_audio``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.db import IntegrityError, transaction
from django.utils import timezone

from generation import storage
from generation.files import AUDIO_TYPES, track_file_name
from generation.models import Track
from studio.evaluation import version_name
from studio.models import (
    RATING_AXES,
    BlindRating,
    ListeningClip,
    ListeningSession,
    PairwiseAnswer,
)

SESSION_SINGLES = 6  # clips rated alone (besides the checks)
SESSION_PAIRS = 2


class NoClips(Exception):
    """Not enough clips to make a session."""


class StaleAnswer(Exception):
    """The answer is for a step that is not the current one (sent twice, or an old tab)."""


def _generated_clip(track: Track) -> ListeningClip:
    clip = ListeningClip.objects.filter(kind=ListeningClip.Kind.GENERATED, track=track).first()
    if clip is None:
        params = dict(track.parameters or {})
        clip = ListeningClip.objects.create(
            kind=ListeningClip.Kind.GENERATED, track=track,
            model_version=version_name(params, track.model_version),
            task_kind=track.kind, parameters=params)
    return clip


def clip_pool(user) -> tuple[list[ListeningClip], list[ListeningClip]]:
    """(clips to rate, attention-check clips) that ``user`` may hear: others' public tracks
    with audio, and stored references and checks whose audio exists."""
    tracks = Track.objects.public().exclude(owner=user).filter(files__has_key="audio")
    music = [_generated_clip(t) for t in tracks]
    stored = ListeningClip.objects.filter(is_demo=False, kind__in=[
        ListeningClip.Kind.REFERENCE, ListeningClip.Kind.NOISE]).exclude(audio="")
    stored = [c for c in stored if storage.exists(c.audio)]
    music += [c for c in stored if c.kind == ListeningClip.Kind.REFERENCE]
    checks = [c for c in stored if c.kind == ListeningClip.Kind.NOISE]
    return music, checks


@transaction.atomic
def start_session(*, user, rng: random.Random | None = None, singles: int | None = None,
                  pairs: int | None = None) -> ListeningSession:
    """A new session for ``user`` (an unfinished earlier one is closed): up to ``singles``
    clips rated alone and ``pairs`` pairs (default SESSION_SINGLES, SESSION_PAIRS), an
    attention check and a second hearing. Raises NoClips when fewer than two clips can be
    heard."""
    rng = rng or random.SystemRandom()
    singles = SESSION_SINGLES if singles is None else singles
    pairs = SESSION_PAIRS if pairs is None else pairs
    music, checks = clip_pool(user)
    if len(music) < 2:
        raise NoClips("There is not enough music to listen to yet. Please come back later.")
    ListeningSession.objects.filter(user=user, finished_at=None).update(
        finished_at=timezone.now())
    rng.shuffle(music)
    steps: list[dict] = []
    pair_steps = []
    for _ in range(pairs):
        if len(music) < 2 + (1 if singles else 0):
            break
        a, b = music.pop(), music.pop()
        pair_steps.append({"mode": "pair", "a": a.id, "b": b.id})
    single_steps = [{"mode": "single", "clip": c.id, "repeat": False} for c in music[:singles]]
    extra = [{"mode": "single", "clip": c.id, "repeat": False} for c in rng.sample(checks, 1)
             ] if checks else []
    steps = single_steps + pair_steps + extra
    rng.shuffle(steps)
    if single_steps:
        # the first clip rated alone comes back at the end: a consistent listener scores it
        # about the same
        first = next(s for s in steps if s["mode"] == "single" and s in single_steps)
        steps.append({"mode": "single", "clip": first["clip"], "repeat": True})
    return ListeningSession.objects.create(user=user, plan=steps)


def current_session(*, user) -> ListeningSession | None:
    return (ListeningSession.objects.filter(user=user, finished_at=None, is_demo=False)
            .order_by("-id").first())


@dataclass
class Step:
    number: int  # 1-based
    total: int
    mode: str  # single | pair
    clips: list[ListeningClip]


def step_of(session: ListeningSession) -> Step | None:
    """The step to answer now, or None when the session is complete."""
    if session.position >= len(session.plan):
        return None
    step = session.plan[session.position]
    ids = [step["clip"]] if step["mode"] == "single" else [step["a"], step["b"]]
    clips = {c.id: c for c in ListeningClip.objects.filter(id__in=ids)}
    return Step(session.position + 1, len(session.plan), step["mode"], [clips[i] for i in ids])


@transaction.atomic
def answer(*, session: ListeningSession, number: int, values: dict[str, str]) -> None:
    """Store the answer to step ``number`` (1-based) and move on. Raises StaleAnswer for any
    other step, ValueError for a missing or out-of-range value (nothing stored)."""
    session = ListeningSession.objects.select_for_update().get(id=session.id)
    if session.finished_at or number != session.position + 1 or number > len(session.plan):
        raise StaleAnswer("This clip was already answered.")
    step = session.plan[session.position]
    try:
        with transaction.atomic():
            if step["mode"] == "single":
                scores = {}
                for axis in RATING_AXES:
                    raw = values.get(axis, "")
                    if not str(raw).isdigit() or not 1 <= int(raw) <= 5:
                        raise ValueError("Please choose a score from 1 to 5 on each question.")
                    scores[axis] = int(raw)
                BlindRating.objects.create(session=session, clip_id=step["clip"],
                                           repeat=step["repeat"], **scores)
            else:
                choices = {}
                for question in ("more_musical", "fits_mood"):
                    if values.get(question) not in ("a", "b"):
                        raise ValueError("Please choose the first or the second clip for "
                                         "each question.")
                    choices[question] = values[question]
                PairwiseAnswer.objects.create(session=session, clip_a_id=step["a"],
                                              clip_b_id=step["b"], **choices)
    except IntegrityError:
        raise StaleAnswer("This clip was already answered.") from None
    session.position += 1
    if session.position >= len(session.plan):
        session.finished_at = timezone.now()
    session.save(update_fields=["position", "finished_at"])


def stop(*, session: ListeningSession) -> None:
    """End the session now; what was answered stays."""
    ListeningSession.objects.filter(id=session.id, finished_at=None).update(
        finished_at=timezone.now())


def clip_file(*, user, token: str) -> tuple[str, str] | None:
    """(file name under the media store, content type) of a clip in ``user``'s open
    session, else None. Local folder or object store alike (``generation.storage``)."""
    session = current_session(user=user)
    clip = ListeningClip.objects.filter(token=token).select_related("track").first()
    if session is None or clip is None:
        return None
    ids = {i for s in session.plan for i in ([s["clip"]] if s["mode"] == "single"
                                             else [s["a"], s["b"]])}
    if clip.id not in ids:
        return None
    if clip.kind == ListeningClip.Kind.GENERATED:
        if clip.track is None or not Track.objects.public().filter(id=clip.track_id).exists():
            return None  # deleted, made private or hidden since the session began
        try:
            name = track_file_name(clip.track, "audio")
        except Exception:  # Http404: the track has no audio
            return None
    else:
        name = clip.audio
    if not name or not storage.exists(name):
        return None
    return name, AUDIO_TYPES.get(PurePosixPath(name).suffix, "application/octet-stream")
