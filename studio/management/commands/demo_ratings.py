"""``manage.py demo_ratings [--raters N] [--seed S] [--force]``: fill the database with a
clearly marked demo data set for the evaluation dashboard (its screenshot, its tests).

Everything it makes is marked: raters are accounts named ``demo-rater-NN`` that cannot log
in, and every clip, session and rating has ``is_demo`` set. Clips are v1 and v2 compositions
and human-composed references (no audio: the dashboard needs none), plus random-note
attention checks. The answers come from a seeded model of listeners (references best, v2
next, v1 last, each rater with their own leniency); two raters answer carelessly and fail
the attention checks. A second run replaces the earlier demo data.

It refuses a database that holds real (non-demo) answers unless given ``--force``.
"""

from __future__ import annotations

import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from studio.evaluation import has_real_answers
from studio.models import (
    REFERENCE_VERSION,
    BlindRating,
    ListeningClip,
    ListeningSession,
    PairwiseAnswer,
    Rating,
)

DEMO_PREFIX = "demo-rater-"
# a listener's mean overall score for each kind of clip (the demo's "truth")
QUALITY = {"v1": 2.8, "v2": 3.3, REFERENCE_VERSION: 3.9}
STYLES = ("chorale", "celtic", "german_folk", "chinese_folk", "renaissance")


def _score(rng: random.Random, centre: float) -> int:
    return max(1, min(5, round(rng.gauss(centre, 0.8))))


class Command(BaseCommand):
    help = "Fill the database with a marked demo set of raters, ratings and pairwise answers."

    def add_arguments(self, parser):
        parser.add_argument("--raters", type=int, default=14)
        parser.add_argument("--seed", type=int, default=16)
        parser.add_argument("--force", action="store_true",
                            help="add demo data even though the database holds real answers")

    def handle(self, *args, raters: int, seed: int, force: bool, **options):
        if raters < 3:
            raise CommandError("--raters must be at least 3.")
        if has_real_answers() and not force:
            raise CommandError(
                "This database holds real ratings; demo_ratings adds demo data only to a "
                "database without them. Pass --force to add it anyway (it is marked as demo)."
            )
        with transaction.atomic():
            made = self._fill(raters, random.Random(seed))
        self.stdout.write(
            f"demo data: {made['raters']} raters, {made['ratings']} ratings, "
            f"{made['pairs']} pairwise answers (all marked is_demo)"
        )

    def _fill(self, raters: int, rng: random.Random) -> dict[str, int]:
        User = get_user_model()
        # replace an earlier demo set (never anything else)
        BlindRating.objects.filter(session__is_demo=True).delete()
        PairwiseAnswer.objects.filter(session__is_demo=True).delete()
        ListeningSession.objects.filter(is_demo=True).delete()
        ListeningClip.objects.filter(is_demo=True).delete()
        Rating.objects.filter(is_demo=True).delete()

        clips: dict[str, list[ListeningClip]] = {}
        for version in ("v1", "v2", REFERENCE_VERSION):
            kind = (ListeningClip.Kind.REFERENCE if version == REFERENCE_VERSION
                    else ListeningClip.Kind.GENERATED)
            clips[version] = [
                ListeningClip.objects.create(
                    kind=kind, model_version=version, task_kind="compose", is_demo=True,
                    parameters={"style": style, "bars": 8, "demo": True},
                )
                for style in STYLES
            ]
        noise = ListeningClip.objects.create(
            kind=ListeningClip.Kind.NOISE, model_version="noise", task_kind="check",
            is_demo=True, parameters={"demo": True})

        counts = {"raters": 0, "ratings": 0, "pairs": 0}
        for n in range(1, raters + 1):
            user, created = User.objects.get_or_create(username=f"{DEMO_PREFIX}{n:02d}")
            if created:
                user.set_unusable_password()
                user.save()
            careless = n > raters - 2  # the last two do not listen
            leniency = rng.gauss(0, 0.4)
            session = ListeningSession.objects.create(user=user, is_demo=True)

            def score(version: str, careless: bool = careless, leniency: float = leniency
                      ) -> int:
                if careless:
                    return rng.randint(3, 5)
                return _score(rng, QUALITY[version] + leniency)

            heard = []
            for version in ("v1", "v2", REFERENCE_VERSION):
                for clip in rng.sample(clips[version], 3):
                    s = score(version)
                    BlindRating.objects.create(
                        session=session, clip=clip, overall=s,
                        mood_match=max(1, min(5, s + rng.choice((-1, 0, 0, 1)))),
                        style_match=max(1, min(5, s + rng.choice((-1, 0, 0, 1)))))
                    heard.append((clip, s))
                    counts["ratings"] += 1
            clip, first = heard[0]
            again = rng.randint(1, 5) if careless else max(1, min(5, first + rng.choice((-1, 0, 1))))
            BlindRating.objects.create(session=session, clip=clip, overall=again,
                                       mood_match=again, style_match=again, repeat=True)
            noise_score = rng.randint(4, 5) if careless else rng.randint(1, 2)
            BlindRating.objects.create(session=session, clip=noise, overall=noise_score,
                                       mood_match=noise_score, style_match=noise_score)
            counts["ratings"] += 2
            for a_version, b_version in (("v1", "v2"), ("v2", REFERENCE_VERSION),
                                         ("v1", REFERENCE_VERSION), ("v2", "v1")):
                a, b = rng.choice(clips[a_version]), rng.choice(clips[b_version])
                qa, qb = QUALITY[a_version], QUALITY[b_version]
                p_a = qa**3 / (qa**3 + qb**3)  # stronger preference than the score gap alone
                musical, mood = ("a" if rng.random() < p_a else "b" for _ in range(2))
                PairwiseAnswer.objects.create(session=session, clip_a=a, clip_b=b,
                                              more_musical=musical, fits_mood=mood)
                counts["pairs"] += 1
            # track-page ratings of (demo) tracks since deleted: they keep their own copies
            for version in ("v1", "v2"):
                s = score(version)
                Rating.objects.create(
                    track=None, user=user, overall=s, mood_match=s, style_match=s,
                    model_version=f"demo-{version}", task_kind="compose",
                    parameters={"model": version, "demo": True}, is_demo=True)
                counts["ratings"] += 1
            counts["raters"] += 1
        return counts
