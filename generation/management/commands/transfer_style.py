"""`manage.py transfer_style FILE --to STYLE [--from STYLE] --out DIR`.

Validates the upload like the web form does, transfers it, writes DIR/<name>.<style>.mid and
prints one JSON object: {"files": {"midi": PATH}, "source_style", "guessed", "route",
"model_version", "seconds", "unchanged"}. Bad input exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand


def _fail(message: str) -> None:
    sys.stderr.write(message.strip().replace("\n", " ") + "\n")
    sys.exit(2)


class Command(BaseCommand):
    help = "Transfer a MIDI file into another style with the trained CycleGANs."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--to", dest="to_style", required=True)
        parser.add_argument("--from", dest="from_style", default=None)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--threads", type=int, default=1)

    def handle(self, *args, **opts):
        import torch

        from generation.ml.transfer import TransferError, transfer_style
        from generation.music.notes import write_midi
        from generation.music.validate import MidiValidationError, validate_midi

        torch.set_num_threads(max(1, opts["threads"]))
        path: Path = opts["file"]
        t0 = time.time()
        try:
            data = path.read_bytes()
        except OSError as e:
            _fail(f"Cannot read {path}: {e.strerror or e}.")
        try:
            piece = validate_midi(data).piece
        except MidiValidationError as e:
            _fail(str(e))
        try:
            result = transfer_style(piece, opts["to_style"], opts["from_style"])
        except TransferError as e:
            _fail(str(e))
        out_dir: Path = opts["out"]
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{path.stem}.{opts['to_style']}.mid"
        write_midi(result.piece, target)
        self.stdout.write(json.dumps({
            "files": {"midi": str(target)},
            "source_style": result.source_style,
            "guessed": result.guessed,
            "route": result.route,
            "model_version": result.model_version,
            "seconds": round(time.time() - t0, 3),
            "unchanged": result.unchanged,
        }))
