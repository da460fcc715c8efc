"""`manage.py build_dataset`: parse music21's corpus into the prepared data set cache.

Writes generation/data/corpus_v1/ (notes array, pieces.json, MANIFEST.json) and, the first
time (or with --refreeze-bands), the density/register band edges in attributes_schema.json.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.music import corpus


class Command(BaseCommand):
    help = "Parse the music21 corpus (in parallel), dedupe, split and write the prepared cache."

    def add_arguments(self, parser):
        parser.add_argument("--styles", nargs="+", default=corpus.STYLES,
                            choices=corpus.STYLES, help="styles to build (default: all)")
        parser.add_argument("--workers", type=int, default=2, help="parallel parse processes")
        parser.add_argument("--limit-per-style", type=int,
                            default=corpus.DEFAULT_LIMIT_PER_STYLE,
                            help="cap on files and on pieces per style (0: no cap)")
        parser.add_argument("--out", type=Path, default=None,
                            help="output folder (default generation/data/corpus_v1)")
        parser.add_argument("--refreeze-bands", action="store_true",
                            help="overwrite the frozen density/register band edges")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        t0 = time.time()
        command = "python manage.py build_dataset " + " ".join(
            shlex.quote(a) for a in sys.argv[2:])
        try:
            manifest = corpus.build_corpus(
                styles=opts["styles"], workers=opts["workers"],
                limit_per_style=opts["limit_per_style"] or None, out_dir=opts["out"],
                refreeze_bands=opts["refreeze_bands"], command=command.strip(),
                progress=not opts["no_progress"], log=self.stdout.write)
        except FileNotFoundError as e:
            raise CommandError(str(e)) from e
        w = self.stdout.write
        w(f"{'style':<14}{'train':>7}{'valid':>7}{'test':>7}{'total':>7}")
        for style, c in manifest["counts"].items():
            w(f"{style:<14}{c['train']:>7}{c['valid']:>7}{c['test']:>7}{sum(c.values()):>7}")
        w(f"pieces {manifest['pieces']}, notes {manifest['notes']}, duplicates dropped "
          f"{manifest['duplicates_dropped']}, capped {manifest['capped_by_limit']}, "
          f"parse errors {manifest['parse_error_count']}")
        w(f"band edges {manifest['band_edges']}")
        w(f"files {manifest['files']}")
        w(f"done in {time.time() - t0:.0f} s")
