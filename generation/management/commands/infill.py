"""`manage.py infill FILE --bars 5-8 [--voices 2,3] [--seed K] [--variants N] --out DIR`:
rewrite chosen bars (and voices, 1 = the highest) of a MIDI file with the v2 model, the music
before and after in view; everything outside the selection stays note for note. Prints one
JSON object; bad input (bars outside the piece, an empty selection) exits 2 with one line on
stderr."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from generation.management.sampling_cli import print_result


class Command(BaseCommand):
    help = "Rewrite bars of a MIDI file in context and write variant-N.mid files."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--bars", required=True, help="e.g. 5-8 (1-based, inclusive)")
        parser.add_argument("--voices", default=None, help="e.g. 2,3 (default: all)")
        parser.add_argument("--style", default=None)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--variants", type=int, default=1)
        parser.add_argument("--out", required=True)

    def handle(self, *args, **opts):
        from generation.ml.infill import infill_file

        print_result(self.stdout, lambda: infill_file(
            opts["file"], opts["out"], bars=opts["bars"], voices=opts["voices"],
            seed=opts["seed"], variants=opts["variants"], style=opts["style"]))
