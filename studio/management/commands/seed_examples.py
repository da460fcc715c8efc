"""Fill the gallery of a new install: one public example track per style, made through the
normal job path (queued, composed by a worker, rendered), owned by a system account.

    manage.py seed_examples            # once; a second run says so and makes nothing
    manage.py seed_examples --if-new   # quietly nothing when they were made before (make run)
    manage.py seed_examples --again    # one more set

The moods alternate English and Chinese. The jobs wait for a worker like anyone's; the
account's active-job limit holds for it too, so the command waits for a free place (at most
``--wait`` seconds) rather than go around the limit.
"""
from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from generation import services
from generation.models import Job, Track
from generation.pipeline import InvalidJob, styles

# one mood per style, in the language a visitor of that music might type it; a style added
# to the engine later gets the general one
MOODS = {
    "chorale": "a quiet evening hymn of thanks",
    "renaissance": "宫廷里庄严而优雅的舞曲",
    "german_folk": "a cheerful walk through the village at dawn",
    "chinese_folk": "春节的热闹和喜悦",
    "celtic": "a lively reel at the harbour, dancing feet",
}
GENERAL_MOOD = "a gentle song for a summer afternoon"
BARS = 16


EXAMPLES_EMAIL = "examples@cadenza.invalid"  # .invalid: no mail can ever go there


def examples_account():
    """The system account: no usable password (nobody logs in as it), and an address that
    counts as confirmed, since whoever runs this command speaks for it."""
    from accounts.models import VerifiedEmail

    User = get_user_model()
    user, created = User.objects.get_or_create(username=settings.STUDIO_EXAMPLES_ACCOUNT,
                                               defaults={"email": EXAMPLES_EMAIL})
    if created:
        user.set_unusable_password()
        user.save()
    if user.email:
        VerifiedEmail.objects.update_or_create(user=user, defaults={"email": user.email})
    return user


class Command(BaseCommand):
    help = "Queue one public example track per style, owned by the examples account."

    def add_arguments(self, parser):
        parser.add_argument("--if-new", action="store_true",
                            help="do nothing, quietly, when examples were made before")
        parser.add_argument("--again", action="store_true", help="make one more set")
        parser.add_argument("--wait", type=float, default=900,
                            help="seconds to wait for a free place under the job limit")

    def handle(self, *args, if_new=False, again=False, wait=900.0, **options):
        user = examples_account()
        made_before = Job.objects.filter(owner=user).exists()
        if made_before and not again:
            if not if_new:
                count = Track.objects.filter(owner=user).count()
                self.stdout.write(f"Examples were made before ({count} tracks); "
                                  "--again makes another set.")
            return
        deadline = time.monotonic() + max(0.0, wait)
        queued = []
        for index, style in enumerate(styles()):
            mood = MOODS.get(style, GENERAL_MOOD)
            params = {"mood": mood, "style": style, "bars": BARS, "seed": 1000 + index}
            while True:
                try:
                    job = services.submit_job(user=user, kind=Job.Kind.COMPOSE, params=params,
                                              visibility=Track.Visibility.PUBLIC)
                    break
                except services.QuotaExceeded as exc:
                    if time.monotonic() >= deadline:
                        raise CommandError(
                            f"{len(queued)} examples queued; the rest could not be: {exc}"
                        ) from exc
                    time.sleep(2)
                except InvalidJob as exc:  # a mood the reader refuses is our bug: say which
                    raise CommandError(f"example for {style} refused: {exc}") from exc
            queued.append(job)
            self.stdout.write(f"queued job {job.id}: {style}, “{mood}”")
        self.stdout.write(self.style.SUCCESS(
            f"{len(queued)} examples queued; the gallery shows them as the worker finishes."))
