"""`manage.py train_style_classifier`: train the judge of style transfer on the training split.

Writes generation/checkpoints/style_classifier/ (model.safetensors, config.json with the
validation and test accuracies and the test confusion matrix, loss.csv, loss.png).
"""

from __future__ import annotations

import json

import torch
from django.core.management.base import BaseCommand

from generation.ml.train_cyclegan import train_style_classifier


class Command(BaseCommand):
    help = "Train the style classifier (phrases of all styles, training split only)."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=float, default=5.0)
        parser.add_argument("--max-per-style", type=int, default=6000,
                            help="training phrases sampled per style")
        parser.add_argument("--threads", type=int, default=1)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--width", type=int, default=None,
                            help="channels of the first convolution (doubled twice)")

    def handle(self, *args, **opts):
        torch.set_num_threads(max(1, opts["threads"]))
        result = train_style_classifier(minutes=opts["minutes"],
                                        max_train_per_style=opts["max_per_style"],
                                        seed=opts["seed"], width=opts["width"],
                                        log=self.stdout.write)
        self.stdout.write(json.dumps(result, indent=2))
