"""`manage.py interpret_mood "TEXT"`: print what the mood reader makes of a text.

Prints one JSON object (UTF-8, not ASCII-escaped): {"valence", "arousal", "attributes":
{"mode", "tempo_bpm", "tempo_band", "density_band", "register_band", "dynamics"},
"style_hint", "explanation", "unknown_words"}. Bad input (empty, too long, no words or emoji)
exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from generation.ml.mood import MoodError, interpret_mood


def mood_json(text: str) -> str:
    """The command's output for `text`; raises MoodError for text the reader refuses."""
    return json.dumps(interpret_mood(text).to_dict(), ensure_ascii=False)


class Command(BaseCommand):
    help = "Read a mood text (English, Chinese, mixed, emoji) and print its musical attributes."

    def add_arguments(self, parser):
        parser.add_argument("text", help='the mood, e.g. "stormy night at sea, restless"')

    def handle(self, *args, **opts):
        try:
            out = mood_json(opts["text"])
        except MoodError as e:
            raise CommandError(str(e), returncode=2) from e
        self.stdout.write(out)
