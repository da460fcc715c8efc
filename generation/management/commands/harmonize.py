"""`manage.py harmonize FILE [--style S] [--seed K] [--variants N] --out DIR`: keep the
file's melody (its highest line) on top and write the voices under it with the v2 model
(four-part chorale; for the folk styles, melody plus a keyboard accompaniment). Prints one
JSON object; a file with no melody exits 2 with one line on stderr."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from generation.management.sampling_cli import print_result


class Command(BaseCommand):
    help = "Harmonize the melody of a MIDI file and write variant-N.mid files."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--style", default="chorale")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--variants", type=int, default=1)
        parser.add_argument("--out", required=True)

    def handle(self, *args, **opts):
        from generation.ml.infill import harmonize_file

        print_result(self.stdout, lambda: harmonize_file(
            opts["file"], opts["out"], style=opts["style"], seed=opts["seed"],
            variants=opts["variants"]))
