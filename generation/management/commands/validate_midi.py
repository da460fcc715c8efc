"""`manage.py validate_midi FILE`: run the upload validation on a file.

Prints the summary as one JSON object, or exits with status 2 and the refusal (one sentence)
on stderr. Exactly the check every upload path runs: ``generation.music.validate``.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.music.validate import DEFAULT_MAX_BYTES, MidiValidationError, validate_midi


class Command(BaseCommand):
    help = "Validate a MIDI file as an upload would be; print its summary as JSON."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the MIDI file to check")
        parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES,
                            help=f"size limit in bytes (default {DEFAULT_MAX_BYTES:,})")

    def handle(self, *args, **opts):
        path: Path = opts["file"]
        max_bytes: int = opts["max_bytes"]
        try:
            with path.open("rb") as handle:
                # one byte more than allowed is enough to say "too large" without reading it all
                data = handle.read(max_bytes + 1)
        except OSError as exc:
            raise CommandError(f"Cannot open {path}: {exc.strerror or exc}",
                               returncode=2) from None
        try:
            result = validate_midi(data, max_bytes=max_bytes)
        except MidiValidationError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(json.dumps(result.summary()))
