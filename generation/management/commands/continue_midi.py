"""`manage.py continue_midi FILE [--bars N ...] --out DIR`: continue a seed MIDI file.

The file goes through the same validation as an upload. Prints one JSON object; bad input
exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from generation.management.steering import add_sampling_arguments, steering_options


class Command(BaseCommand):
    help = "Continue a MIDI file by N bars and write variant-N.mid files."

    def add_arguments(self, parser):
        parser.add_argument("file", help="seed MIDI file")
        parser.add_argument("--style", default=None, help="default: guessed from the seed")
        parser.add_argument("--attributes", default=None, help="JSON overrides of the bands")
        add_sampling_arguments(parser)
        parser.add_argument("--out", required=True, help="output folder")

    def handle(self, *args, **opts):
        from generation.ml.compose import (
            ComposeInputError,
            continue_midi_file,
            parse_attributes,
        )

        steering = steering_options(opts)
        try:
            result = continue_midi_file(
                opts["file"], opts["out"], bars=opts["bars"], temperature=opts["temperature"],
                top_p=opts["top_p"], seed=opts["seed"], variants=opts["variants"],
                style=opts["style"], attributes=parse_attributes(opts["attributes"]),
                **steering)
        except ComposeInputError as exc:
            sys.stderr.write(f"error: {exc}\n")
            sys.exit(2)
        self.stdout.write(json.dumps(result))
