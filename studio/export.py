"""Every stored answer as export rows (``manage.py export_ratings`` and the dashboard's CSV
download): pseudonymous raters, a fresh salt per export."""

from __future__ import annotations

import csv
import json
from typing import TextIO

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


def write_csv(stream: TextIO) -> None:
    """A header, then one line per answer (parameters as JSON)."""
    writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in export_rows():
        row["parameters"] = json.dumps(row["parameters"], ensure_ascii=False, sort_keys=True)
        writer.writerow({k: "" if v is None else v for k, v in row.items()})


def json_text() -> str:
    return json.dumps(list(export_rows()), ensure_ascii=False, indent=1)
