"""`manage.py train_transformer`: train the continuation Transformer (see
generation/ml/train_transformer.py for what it writes)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Train the continuation Transformer on the prepared corpus (time- or step-bounded)."

    def add_arguments(self, parser):
        parser.add_argument("--tiny", action="store_true", help="tiny model, for smoke tests")
        parser.add_argument("--minutes", type=float, default=None, help="wall-clock budget")
        parser.add_argument("--steps", type=int, default=None, help="step budget")
        parser.add_argument("--resume", action="store_true", help="continue from OUT/last")
        parser.add_argument("--out", default=None, help="checkpoint folder")
        parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--lr", type=float, default=None)
        parser.add_argument("--eval-every", type=int, default=None)

    def handle(self, *args, **opts):
        from generation.ml.train_transformer import TrainConfig, train

        cfg = TrainConfig(tiny=opts["tiny"], device=opts["device"], resume=opts["resume"],
                          minutes=opts["minutes"])
        if opts["out"]:
            cfg.out = opts["out"]
        if opts["steps"]:
            cfg.max_steps = opts["steps"]
        elif opts["tiny"] and not opts["minutes"]:
            cfg.max_steps = 50
        if opts["tiny"]:
            cfg.eval_every, cfg.eval_batches, cfg.batch_size = 25, 2, 8
        for key, field in (("batch_size", "batch_size"), ("lr", "lr"),
                           ("eval_every", "eval_every")):
            if opts[key] is not None:
                setattr(cfg, field, opts[key])
        try:
            summary = train(cfg)
        except (FileNotFoundError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(summary))
