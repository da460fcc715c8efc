"""Accuracy of the mood reader on a hand-labelled prompt set (`tests/data/mood_prompts.json`).

Each prompt is `{"text", "mode", "tempo_band", "split"}` with the mode and tempo band a
musician would choose, written before the reader was tuned. `split` is "tune" (may be looked
at while adjusting the lexicon and rules) or "heldout" (never looked at while tuning); it is
fixed by a hash of the text (`split_for`), so adding prompts never moves old ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from generation.ml.mood import interpret_mood

SPLITS = ("tune", "heldout")
_CJK_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_RE = re.compile("[A-Za-z]")


def split_for(text: str) -> str:
    """The split a prompt belongs to: the parity of the first byte of sha256(text)."""
    return "tune" if hashlib.sha256(text.encode("utf-8")).digest()[0] % 2 == 0 else "heldout"


def language_of(text: str) -> str:
    """'zh' (Chinese characters only), 'en' (Latin letters only), 'mixed', or 'emoji'."""
    zh, en = bool(_CJK_RE.search(text)), bool(_LATIN_RE.search(text))
    return "mixed" if zh and en else "zh" if zh else "en" if en else "emoji"


def load_prompts(path: str | Path) -> list[dict[str, Any]]:
    """Read and check the prompt file; raises ValueError on a malformed or mis-split entry."""
    prompts = json.loads(Path(path).read_text(encoding="utf-8"))
    for p in prompts:
        if set(p) != {"text", "mode", "tempo_band", "split"}:
            raise ValueError(f"prompt with wrong keys: {p!r}")
        if p["split"] != split_for(p["text"]):
            raise ValueError(f"prompt in the wrong split: {p['text']!r}")
    return prompts


def _score(rows: list[tuple[bool, bool]]) -> dict[str, Any]:
    n = len(rows)
    return {
        "n": n,
        "mode": sum(m for m, _ in rows) / n if n else None,
        "tempo_band": sum(t for _, t in rows) / n if n else None,
    }


def evaluate_mood(path: str | Path) -> dict[str, Any]:
    """Accuracy of mode and tempo band, per split and per split x language.

    Returns `{"tune": {"n", "mode", "tempo_band", "by_language": {lang: {...}}},
    "heldout": {...}, "errors": {"tune": [...]}}`; accuracies are fractions in [0, 1]
    (None for an empty group). Only the tune split's errors are listed, so that reading the
    result while tuning does not leak the held-out half.
    """
    prompts = load_prompts(path)
    result: dict[str, Any] = {}
    tune_errors: list[dict[str, Any]] = []
    for split in SPLITS:
        rows: list[tuple[bool, bool]] = []
        by_lang: dict[str, list[tuple[bool, bool]]] = {}
        for p in (p for p in prompts if p["split"] == split):
            got = interpret_mood(p["text"]).attributes
            row = (got["mode"] == p["mode"], got["tempo_band"] == p["tempo_band"])
            rows.append(row)
            by_lang.setdefault(language_of(p["text"]), []).append(row)
            if split == "tune" and not all(row):
                tune_errors.append(
                    {
                        "text": p["text"],
                        "want": [p["mode"], p["tempo_band"]],
                        "got": [got["mode"], got["tempo_band"]],
                    }
                )
        result[split] = _score(rows) | {
            "by_language": {lang: _score(r) for lang, r in sorted(by_lang.items())}
        }
    result["errors"] = {"tune": tune_errors}
    return result


if __name__ == "__main__":  # python -m generation.ml.mood_eval [path]
    import sys

    default = Path(__file__).resolve().parents[2] / "tests" / "data" / "mood_prompts.json"
    print(
        json.dumps(
            evaluate_mood(sys.argv[1] if len(sys.argv) > 1 else default),
            ensure_ascii=False,
            indent=1,
        )
    )
