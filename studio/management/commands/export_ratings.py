"""``manage.py export_ratings [--format csv|json]``: every rating and every pairwise answer,
once each, on stdout (CSV: a header, then one row per answer; an empty database gives the
header alone; JSON: a list).

Raters appear under pseudonyms (a salted SHA-256 of the account, with a fresh random salt
per export): stable within one export, not linkable across exports or to accounts.
"""

from __future__ import annotations

import csv
import json

from django.core.management.base import BaseCommand

from studio.evaluation import Attention, all_answers, attention_outcomes, pseudonymiser

COLUMNS = [
    "answer", "id", "source", "rater", "model_version", "task_kind", "parameters",
    "overall", "mood_match", "style_match", "other_model_version", "other_task_kind",
    "more_musical", "fits_mood", "owner_rating", "attention_check", "is_demo", "created_at",
]


def export_rows():
    outcomes = attention_outcomes()
    pseudonym = pseudonymiser()
    for a in all_answers():
        yield {
            "answer": a.kind,
            "id": a.id,
            "source": a.source,
            "rater": pseudonym(a.rater),
            "model_version": a.model_version,
            "task_kind": a.task_kind,
            "parameters": a.parameters,
            "overall": a.scores.get("overall"),
            "mood_match": a.scores.get("mood_match"),
            "style_match": a.scores.get("style_match"),
            "other_model_version": a.other_version or None,
            "other_task_kind": a.other_task_kind or None,
            "more_musical": a.choices.get("more_musical"),
            "fits_mood": a.choices.get("fits_mood"),
            "owner_rating": a.owner_rating,
            "attention_check": outcomes.get(a.rater, Attention.NONE),
            "is_demo": a.is_demo,
            "created_at": a.created_at,
        }


class Command(BaseCommand):
    help = "Print every rating and pairwise answer (pseudonymous raters) as CSV or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args, **options):
        rows = export_rows()
        if options["format"] == "json":
            self.stdout.write(json.dumps(list(rows), ensure_ascii=False, indent=1))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            row["parameters"] = json.dumps(row["parameters"], ensure_ascii=False, sort_keys=True)
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
