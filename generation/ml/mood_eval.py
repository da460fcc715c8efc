"""Accuracy of the mood reader on a hand-labelled prompt set (`tests/data/mood_prompts.json`).

Each prompt is `{"text", "mode", "tempo_band", "split"}` with the mode and tempo band a
musician would choose, written before the reader was run on it. `split` is one of

    "tune"     may be looked at while adjusting the lexicon and rules;
    "heldout"  never looked at while tuning (not its texts, not its mistakes);
    "dev"      a later batch of prompts, written and committed before the reader was run on
               them, then used for tuning together with "tune" (it shows whether a change
               helps on text the lexicon's author had not seen).
    "dev2"     a third batch, written the same way by another author (a fresh helper
               that read only the tune and dev labels), committed in its own file
               `mood_prompts_dev2.json` before the reader saw it, then merged here.

"tune" and "heldout" are fixed by a hash of the text (`split_for`), so adding prompts never
moves old ones; "dev" and "dev2" are given explicitly. `TUNING_SPLITS` are the ones a tuning loop may
evaluate: `python -m generation.ml.mood_eval --tuning` scores only those, so that the
held-out half is not even computed while the reader is being changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from generation.ml.mood import interpret_mood

SPLITS = ("tune", "dev", "dev2", "heldout")
TUNING_SPLITS = ("tune", "dev", "dev2")
EXPLICIT_SPLITS = ("dev", "dev2")  # batches named in the file, not by the text's hash
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
        if p["split"] not in SPLITS:
            raise ValueError(f"prompt with an unknown split: {p!r}")
        if p["split"] not in EXPLICIT_SPLITS and p["split"] != split_for(p["text"]):
            raise ValueError(f"prompt in the wrong split: {p['text']!r}")
    return prompts


def _score(rows: list[tuple[bool, bool]]) -> dict[str, Any]:
    n = len(rows)
    return {
        "n": n,
        "mode": sum(m for m, _ in rows) / n if n else None,
        "tempo_band": sum(t for _, t in rows) / n if n else None,
    }


def evaluate_mood(path: str | Path, splits: tuple[str, ...] = SPLITS) -> dict[str, Any]:
    """Accuracy of mode and tempo band, per split and per split x language.

    Returns `{split: {"n", "mode", "tempo_band", "by_language": {lang: {...}}}` for each of
    `splits`, plus the pools `"tune+dev"` (the first two tuning batches, as earlier figures
    were reported) and `"tuning"` (every tuning split) when their splits are all asked for,
    and `"errors": {"tune": [...], "dev": [...], "dev2": [...]}`; accuracies are fractions in
    [0, 1] (None for an empty group). Only the tuning splits' errors are listed, never the held-out half's,
    so that reading the result while tuning does not leak it.
    """
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown splits: {sorted(unknown)}")
    prompts = load_prompts(path)
    result: dict[str, Any] = {}
    errors: dict[str, list[dict[str, Any]]] = {s: [] for s in TUNING_SPLITS if s in splits}
    rows_of: dict[str, list[tuple[str, tuple[bool, bool]]]] = {}  # split -> (language, row)
    for split in splits:
        for p in (p for p in prompts if p["split"] == split):
            got = interpret_mood(p["text"]).attributes
            row = (got["mode"] == p["mode"], got["tempo_band"] == p["tempo_band"])
            rows_of.setdefault(split, []).append((language_of(p["text"]), row))
            if split in errors and not all(row):
                errors[split].append(
                    {
                        "text": p["text"],
                        "want": [p["mode"], p["tempo_band"]],
                        "got": [got["mode"], got["tempo_band"]],
                    }
                )
    pools = [(s, (s,)) for s in splits]
    pools += [(name, members) for name, members in (("tune+dev", ("tune", "dev")),
                                                    ("tuning", TUNING_SPLITS))
              if set(members) <= set(splits)]
    for name, members in pools:
        pooled = [lr for s in members for lr in rows_of.get(s, [])]
        by_lang: dict[str, list[tuple[bool, bool]]] = {}
        for lang, row in pooled:
            by_lang.setdefault(lang, []).append(row)
        result[name] = _score([row for _, row in pooled]) | {
            "by_language": {lang: _score(r) for lang, r in sorted(by_lang.items())}
        }
    result["errors"] = errors
    return result


def agreement(path: str | Path, second: str | Path) -> dict[str, Any]:
    """How often a second annotator, labelling the tuning prompts blind (texts only, shuffled,
    never shown the first labels), agrees with the first labels, and how often the reader
    agrees with the second annotator: a yardstick for what accuracy the labels can support.
    Only tuning prompts are in the second file, so the held-out half stays unread."""
    first = {p["text"]: p for p in load_prompts(path)}
    rows = json.loads(Path(second).read_text(encoding="utf-8"))
    if any(r["text"] not in first or first[r["text"]]["split"] not in TUNING_SPLITS
           for r in rows):
        raise ValueError("the second annotator's file holds a prompt outside the tuning splits")
    n = len(rows)
    got = [interpret_mood(r["text"]).attributes for r in rows]
    return {
        "n": n,
        "annotators": {k: sum(r[k] == first[r["text"]][k] for r in rows) / n
                       for k in ("mode", "tempo_band")},
        "reader_vs_second": {k: sum(g[k] == r[k] for g, r in zip(got, rows, strict=True)) / n
                             for k in ("mode", "tempo_band")},
    }


if __name__ == "__main__":  # python -m generation.ml.mood_eval [--tuning | --agreement] [path]
    import sys

    args = sys.argv[1:]
    tuning = "--tuning" in args
    if "--agreement" in args:
        data = Path(__file__).resolve().parents[2] / "tests" / "data"
        print(json.dumps(agreement(data / "mood_prompts.json",
                                   data / "mood_prompts_second_annotator.json"), indent=1))
        sys.exit(0)
    args = [a for a in args if a != "--tuning"]
    default = Path(__file__).resolve().parents[2] / "tests" / "data" / "mood_prompts.json"
    print(
        json.dumps(
            evaluate_mood(args[0] if args else default, TUNING_SPLITS if tuning else SPLITS),
            ensure_ascii=False,
            indent=1,
        )
    )
