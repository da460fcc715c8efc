"""``manage.py listening_clips [--references N] [--checks M] [--bars 8] [--seed S]``: make
the clips blind sessions play besides public tracks.

References are openings of held-out (test split) corpus pieces, dressed as a generated
track of their style is (the composer's instruments per style) and rendered by the worker's
own rendering function; checks are random notes of the same length. Each clip's audio is
stored as ``MEDIA_ROOT/listening/<token>.<ext>``: the token is random, the file carries no
tags, and nothing in its name says what it is.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation import storage
from studio.models import REFERENCE_VERSION, ListeningClip


def store_clip(piece, *, kind: str, version: str, parameters: dict) -> ListeningClip:
    """Render ``piece`` as a track is rendered and keep its audio as a new clip."""
    from generation.pipeline import fit_to_ranges, render_variant

    clip = ListeningClip(kind=kind, model_version=version, task_kind="compose",
                         parameters=parameters)
    with tempfile.TemporaryDirectory() as tmp:
        rendered = render_variant(fit_to_ranges(piece), Path(tmp) / "clip", boundary_beat=None,
                                  timings={})
        source = Path(tmp) / "clip" / rendered["files"]["audio"]
        relative = f"listening/{clip.token}{source.suffix}"
        storage.save_bytes(relative, source.read_bytes())  # local folder or object store
    clip.audio = relative
    clip.save()
    return clip


class Command(BaseCommand):
    help = "Render human-composed references and attention checks for blind sessions."

    def add_arguments(self, parser):
        parser.add_argument("--references", type=int, default=10)
        parser.add_argument("--checks", type=int, default=2)
        parser.add_argument("--bars", type=int, default=8)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, references: int, checks: int, bars: int, seed: int, **options):
        from generation.ml import compose, listening
        from generation.music.corpus import load_corpus

        if references < 0 or checks < 0 or not 1 <= bars <= 32:
            raise CommandError("--references and --checks are 0 or more; --bars 1 to 32.")
        rng = random.Random(seed)
        made = 0
        if references:
            corpus = load_corpus()
            styles = sorted(compose.STYLE_PROGRAMS)
            pools = {s: corpus.select(split="test", style=s) for s in styles}
            for pool in pools.values():
                rng.shuffle(pool)
            while made < references and any(pools.values()):
                for style in styles:
                    if made >= references or not pools[style]:
                        continue
                    info = pools[style].pop()
                    excerpt = listening.reference_excerpt(
                        corpus.piece(info.id), style, bars, compose.STYLE_PROGRAMS[style])
                    if excerpt is None:
                        continue
                    store_clip(excerpt, kind=ListeningClip.Kind.REFERENCE,
                               version=REFERENCE_VERSION,
                               parameters={"style": style, "bars": bars, "piece": info.id})
                    made += 1
        for _ in range(checks):
            store_clip(listening.random_notes(bars, rng), kind=ListeningClip.Kind.NOISE,
                       version="noise", parameters={"bars": bars})
        self.stdout.write(f"made {made} references and {checks} attention checks")
