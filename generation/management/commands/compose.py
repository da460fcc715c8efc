"""`manage.py compose --mood TEXT | --attributes JSON ... --out DIR`: new pieces as MIDI.

Prints one JSON object (files, variants, attributes, model_version, seconds). Bad input exits
with status 2 and one line on stderr.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from generation.management.sampling_cli import (
    add_sampling_arguments,
    print_result,
    sampling_options,
)


class Command(BaseCommand):
    help = "Compose new pieces from a mood text or attributes and write variant-N.mid files."

    def add_arguments(self, parser):
        src = parser.add_mutually_exclusive_group(required=True)
        src.add_argument("--mood", help="free mood text (any language, emoji welcome)")
        src.add_argument("--attributes", help='JSON, e.g. {"mode": "minor"}')
        parser.add_argument("--style", default=None)
        add_sampling_arguments(parser)
        parser.add_argument("--out", required=True, help="output folder")

    def handle(self, *args, **opts):
        from generation.ml.compose import compose_to_files, parse_attributes

        print_result(self.stdout, lambda: compose_to_files(
            opts["out"], mood=opts["mood"], attributes=parse_attributes(opts["attributes"]),
            style=opts["style"], **sampling_options(opts)))
