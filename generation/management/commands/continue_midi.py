"""`manage.py continue_midi FILE [--bars N ...] --out DIR`: continue a seed MIDI file.

The file goes through the same validation as an upload. Prints one JSON object; bad input
exits with status 2 and one line on stderr.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from generation.management.sampling_cli import (
    add_sampling_arguments,
    print_result,
    sampling_options,
)


class Command(BaseCommand):
    help = "Continue a MIDI file by N bars and write variant-N.mid files."

    def add_arguments(self, parser):
        parser.add_argument("file", help="seed MIDI file")
        parser.add_argument("--style", default=None, help="default: guessed from the seed")
        parser.add_argument("--attributes", default=None, help="JSON overrides of the bands")
        add_sampling_arguments(parser)
        parser.add_argument("--out", required=True, help="output folder")

    def handle(self, *args, **opts):
        from generation.ml.compose import continue_midi_file, parse_attributes

        print_result(self.stdout, lambda: continue_midi_file(
            opts["file"], opts["out"], style=opts["style"],
            attributes=parse_attributes(opts["attributes"]), **sampling_options(opts)))
