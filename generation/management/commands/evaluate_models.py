"""`manage.py evaluate_models [--quick]`: evaluate the models, print JSON, write
reports/evaluation.md (see generation/ml/evaluate.py for the sections)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Held-out NLL vs a 5-gram, attribute control, MusPy metrics, valid MIDI, mood."

    def add_arguments(self, parser):
        parser.add_argument("--quick", action="store_true", help="small samples (< 2 minutes)")
        parser.add_argument("--sections", nargs="+", default=None)
        parser.add_argument("--no-report", action="store_true")
        parser.add_argument("--checkpoint", default=None,
                            help="Transformer checkpoint folder (default: the committed one)")

    def handle(self, *args, **opts):
        from generation.ml.evaluate import REPORT_PATH, evaluate_models

        results = evaluate_models(quick=opts["quick"], sections=opts["sections"],
                                  report_path=None if opts["no_report"] else REPORT_PATH,
                                  checkpoint=opts["checkpoint"])
        self.stdout.write(json.dumps(results, default=str))
