"""Form for the one-line styles: which bars of a tune come back, drawn from the corpus.

Real folk tunes and fiddle tunes say a bar again: in the opening 8 bars of the held-out
German, Chinese and Irish tunes 40-53% repeat some bar exactly (bar 6 = bar 2, bar 8 =
bar 4 ...), where the model's own 8-bar tunes did so 13% of the time, and blind listeners
named "no motivic return" and "no phrase answer" among the first things that gave ours
away. The model writes bar by bar and seldom commits to a literal return.

So a composition of a one-line style first draws a *form*: the repeat pattern of the
opening of a training tune of its style (which bar repeats which earlier bar, or none),
from ``form.json`` beside the checkpoint, each pattern as often as the training tunes show
it, and the sampler copies those bars (``compose_v2.sample_bars(repeats=...)``) while the
model writes the rest with the copies in its context. Half or so of the drawn forms repeat
nothing, as in the corpus. Only the pattern is taken from a tune, never its notes.

Pickups (``draw_lead_in``), for chorales and the one-line styles: 81% of the chorales and
77% of the German tunes of the corpus begin with an upbeat, and the model, which learns from
windows that mostly begin inside a piece, cannot tell a piece's first bar from any other: it
opened 1 chorale in 8 with one, and listeners named "no pickup" among what gave ours away. So
a composition also draws how far into its first bar the music starts, as often as the
training pieces of its style and meter start there (``pickups`` in ``form.json``; a start a
whole bar or more in is left out), and the sampler keeps the voices silent until then.
(Renaissance voices enter one by one, which the model writes itself.)

``python -m generation.ml.form`` rebuilds the table from the training split.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from generation.music.grid import STYLE_VOICES, GridCodec, bar_frames

LENGTHS = (4, 8, 16, 32)  # opening lengths with a table; a longer piece uses the longest
TABLE = Path(__file__).resolve().parents[1] / "checkpoints" / "grid_v2" / "form.json"


def repeat_pattern(frames: np.ndarray, F: int, n_bars: int, codec: GridCodec
                   ) -> tuple[tuple[int, int], ...]:
    """((bar, earlier bar it repeats), ...) over the first ``n_bars`` bars (0-based), each
    bar paired with the earliest identical bar; bars without an attack never count."""
    out = []
    seen: dict[bytes, int] = {}
    for b in range(n_bars):
        bar = frames[b * F:(b + 1) * F]
        if not ((bar >= codec.pitch0) & (bar < codec.pitch0 + 128)).any():
            continue
        sig = bar.tobytes()
        if sig in seen:
            out.append((b, seen[sig]))
        else:
            seen[sig] = b
    return tuple(out)


def build_table(split: str = "train") -> dict:
    """{style: {length: [[pattern, count], ...]}} for the one-line styles."""
    from generation.ml.grid_data import build_sequences

    codec = GridCodec()
    styles = [s for s, v in STYLE_VOICES.items() if v == 1]
    table: dict = {"split": split, "styles": {}}
    for seq in build_sequences(split, codec, styles=styles):
        F = bar_frames(seq.style, seq.meter)
        frames = codec.frames_of(seq.tokens.tolist(), seq.style, seq.meter)
        n = frames.shape[0] // F
        per = table["styles"].setdefault(seq.style, {})
        for length in LENGTHS:
            if n >= length:
                pattern = repeat_pattern(frames, F, length, codec)
                per.setdefault(str(length), Counter())[json.dumps(pattern)] += 1
    for per in table["styles"].values():
        for length, counts in per.items():
            per[length] = [[json.loads(p), c] for p, c in counts.most_common()]
    return table


PICKUP_STYLES = ("chorale", "german_folk", "chinese_folk", "celtic")


def build_pickups(split: str = "train") -> dict:
    """{style: {"n/d": [[frames before the first attack, count], ...]}}: how far into the
    first bar the music of each training piece starts (under one bar)."""
    from generation.ml.grid_data import build_sequences

    codec = GridCodec()
    counts: dict = {}
    for seq in build_sequences(split, codec, styles=list(PICKUP_STYLES)):
        F = bar_frames(seq.style, seq.meter)
        frames = codec.frames_of(seq.tokens.tolist(), seq.style, seq.meter)
        attacks = np.flatnonzero(((frames >= codec.pitch0)
                                  & (frames < codec.pitch0 + 128)).any(axis=1))
        if attacks.size and attacks[0] < F:
            meter = f"{seq.meter[0]}/{seq.meter[1]}"
            counts.setdefault(seq.style, {}).setdefault(meter, Counter())[int(attacks[0])] += 1
    return {st: {m: [[k, c] for k, c in sorted(cnt.items())] for m, cnt in per.items()}
            for st, per in counts.items()}


def draw_lead_in(style: str, meter: tuple[int, int], seed: int, path: Path = TABLE) -> int:
    """Frames of silence before a new composition's first note (0 = on the downbeat),
    drawn with ``seed`` from the training pieces of the style and meter; 0 without a table."""
    rows = _load(str(path)).get("pickups", {}).get(style, {}).get(f"{meter[0]}/{meter[1]}")
    if not rows:
        return 0
    rng = random.Random(seed * 104_729 + 17)
    return int(rng.choices([k for k, _ in rows], weights=[c for _, c in rows])[0])


@lru_cache(maxsize=2)
def _load(path: str) -> dict:
    p = Path(path)
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {"styles": {}}


def draw(style: str, bars: int, seed: int, path: Path = TABLE) -> dict[int, int]:
    """{bar: earlier bar to copy} (0-based) for a composition of ``bars`` bars, drawn with
    ``seed``; empty for a style without a table (several voices) or a piece under 4 bars."""
    per = _load(str(path)).get("styles", {}).get(style)
    fitting = [n for n in LENGTHS if n <= bars and per and str(n) in per]
    if not fitting:
        return {}
    rows = per[str(max(fitting))]
    rng = random.Random(seed * 7919 + bars)
    pattern = rng.choices([p for p, _ in rows], weights=[c for _, c in rows])[0]
    return {int(b): int(a) for b, a in pattern}


def main() -> None:  # pragma: no cover - a maintenance command
    table = build_table()
    table["pickups"] = build_pickups()
    TABLE.write_text(json.dumps(table, indent=None, separators=(",", ":")) + "\n",
                     encoding="utf-8")
    for style, per in table["styles"].items():
        rows = per.get("8", [])
        total = sum(c for _, c in rows)
        none = sum(c for p, c in rows if not p)
        print(f"{style}: {total} tunes of 8+ bars, {1 - none / max(1, total):.0%} repeat a bar")


if __name__ == "__main__":  # pragma: no cover
    main()
