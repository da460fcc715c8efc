"""`manage.py train_cyclegan --pair a:b`: train one style-transfer CycleGAN.

Writes generation/checkpoints/cyclegan/<a>__<b>/ (model.safetensors, config.json, loss.csv,
loss.png); ``--resume`` continues from there. ``--all`` trains the star of pairs around the hub
one after the other, ``--minutes`` each.
"""

from __future__ import annotations

import json
import time

import torch
from django.core.management.base import BaseCommand, CommandError

from generation.ml import train_cyclegan as tc


def _pair(text: str) -> tuple[str, str]:
    from generation.music.corpus import STYLES

    try:
        a, b = text.split(":")
    except ValueError:
        raise CommandError(f"--pair wants STYLE:STYLE, got {text!r}") from None
    for s in (a, b):
        if s not in STYLES:
            raise CommandError(f"unknown style {s!r}; styles: {', '.join(STYLES)}")
    if a == b:
        raise CommandError("a pair needs two different styles")
    return a, b


class Command(BaseCommand):
    help = "Train a CycleGAN for symbolic style transfer between two styles."

    def add_arguments(self, parser):
        parser.add_argument("--pair", action="append", default=[],
                            help="STYLE_A:STYLE_B (repeatable)")
        parser.add_argument("--all", action="store_true",
                            help=f"every pair of the star around {tc.HUB}")
        parser.add_argument("--minutes", type=float, default=12.0,
                            help="wall-clock budget per pair")
        parser.add_argument("--steps", type=int, default=None,
                            help="stop after this many steps instead of --minutes")
        parser.add_argument("--tiny", action="store_true", help="tiny networks (tests)")
        parser.add_argument("--resume", action="store_true",
                            help="continue from the pair's checkpoint")
        parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
        parser.add_argument("--threads", type=int, default=1,
                            help="torch CPU threads (the machine is shared)")
        parser.add_argument("--out", default=None, help="checkpoint folder (one pair only)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--lambda-cycle", type=float, default=None,
                            help="weight of the cycle loss (default: CycleGANConfig's 10; with "
                                 "--resume it replaces the checkpoint's weight)")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        from generation.music.corpus import STYLES

        torch.set_num_threads(max(1, opts["threads"]))
        pairs = [_pair(p) for p in opts["pair"]]
        if opts["all"]:
            pairs += [p for p in tc.default_pairs(list(STYLES)) if p not in pairs]
        if not pairs:
            raise CommandError("give --pair STYLE_A:STYLE_B or --all")
        if opts["out"] and len(pairs) > 1:
            raise CommandError("--out works with one pair only")
        for a, b in pairs:
            t0 = time.time()
            summary = tc.train_pair(
                a, b, minutes=opts["minutes"], max_steps=opts["steps"], tiny=opts["tiny"],
                resume=opts["resume"], device=opts["device"], out_dir=opts["out"],
                seed=opts["seed"], progress=not opts["no_progress"], log=self.stdout.write,
                config_overrides=({"lambda_cycle": opts["lambda_cycle"]}
                                  if opts["lambda_cycle"] is not None else None))
            summary["wall_seconds"] = round(time.time() - t0, 1)
            self.stdout.write(json.dumps(summary))
