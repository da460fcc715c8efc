"""`manage.py listening_test make --out DIR [--per-style N] [--bars 8] [--model VERSION]
[--task compose|continue|infill|harmonize] [--seed K]` writes a blind listening set (items in
DIR/items, the answer key in DIR/key.json); `manage.py listening_test score KEY CSV` prints
the judge's accuracy and mean musicality by style and source as JSON. Bad input exits 2 with
one line on stderr. See generation/ml/listening.py for how the items are made alike."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from generation.ml.listening import TASKS


class Command(BaseCommand):
    help = "Make a blind listening set (real vs generated) or score a judge's answers."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        make = sub.add_parser("make")
        make.add_argument("--out", required=True)
        make.add_argument("--per-style", type=int, default=3)
        make.add_argument("--bars", type=int, default=8)
        make.add_argument("--model", default=None, help="v1 or v2 (default: the served one)")
        make.add_argument("--task", default="compose", choices=list(TASKS))
        make.add_argument("--styles", nargs="+", default=None)
        make.add_argument("--seed", type=int, default=0)
        score = sub.add_parser("score")
        score.add_argument("key")
        score.add_argument("judgements")

    def handle(self, *args, **opts):
        from generation.ml import engines, listening

        try:
            if opts["action"] == "make":
                if not 1 <= opts["per_style"] <= 50 or not 2 <= opts["bars"] <= 32:
                    raise ValueError("--per-style must be 1..50 and --bars 2..32")
                result = listening.make_set(opts["out"], per_style=opts["per_style"],
                                            bars=opts["bars"], task=opts["task"],
                                            model=engines.load(opts["model"]),
                                            styles=opts["styles"], seed=opts["seed"])
            else:
                result = listening.score(opts["key"], opts["judgements"])
        except (ValueError, OSError, KeyError) as exc:
            sys.stderr.write(f"error: {exc}\n")
            sys.exit(2)
        self.stdout.write(json.dumps(result, indent=1))
