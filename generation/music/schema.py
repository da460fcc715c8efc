"""Small readers of the musical attribute schema (`attributes_schema.json`).

The JSON file is the single source of truth for attribute names, band names and band edges;
this module only reads it. It never computes edges that the file leaves `null` (density and
register edges are written into the JSON by the dataset builder).
"""

from __future__ import annotations

import bisect
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("attributes_schema.json")


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """Return the parsed schema (cached; callers must not mutate it)."""
    with SCHEMA_PATH.open(encoding="utf-8") as f:
        return json.load(f)


STYLES: tuple[str, ...] = tuple(load_schema()["styles"])


def band_names(attr: str) -> tuple[str, ...]:
    """Allowed values of a band or category attribute, in schema order (low to high).

    Raises KeyError for an attribute the schema does not define or one without values.
    """
    return tuple(load_schema()["attributes"][attr]["values"])


def band_edges(attr: str, style: str | None = None) -> tuple[float, ...] | None:
    """Numeric edges of a band attribute, or None while the schema leaves them unset.

    With a ``style`` that has edges of its own (``by_style``: the tertiles within that style,
    so that a "sparse" chorale is a chorale that moves less than most chorales, not one in
    whole notes) those; otherwise the corpus-wide edges (which v1 was trained on)."""
    spec = load_schema()["attributes"][attr]
    if style is not None:
        own = (spec.get("by_style") or {}).get(style)
        if own is not None:
            return tuple(own)
    edges = spec.get("edges")
    return None if edges is None else tuple(edges)


def tempo_band(bpm: float) -> str:
    """Tempo band for a tempo in BPM, by the schema edges (slow < 90 <= moderate < 120 <= fast).

    A value on an edge belongs to the band above it.
    """
    edges = band_edges("tempo_band")
    assert edges is not None, "tempo_band edges are fixed in the schema"
    return band_names("tempo_band")[bisect.bisect_right(edges, bpm)]


def _numeric_band(attr: str, value: float, style: str | None = None) -> str | None:
    edges = band_edges(attr, style)
    if edges is None:
        return None
    return band_names(attr)[bisect.bisect_right(edges, value)]


def density_band(x: float, style: str | None = None) -> str | None:
    """Density band (sparse/moderate/dense) for note onsets per quarter-note beat, within
    ``style`` when given (see ``band_edges``).

    A value on an edge belongs to the band above it. Returns None while the schema's edges are
    still unset (before the first `manage.py build_dataset`).
    """
    return _numeric_band("density_band", x, style)


def register_band(x: float, style: str | None = None) -> str | None:
    """Register band (low/middle/high) for a mean MIDI pitch, within ``style`` when given;
    edge values go to the band above.

    Returns None while the schema's edges are still unset.
    """
    return _numeric_band("register_band", x, style)


def band_interval(attr: str, band: str, style: str | None = None
                  ) -> tuple[float, float] | None:
    """(low, high) of a numeric band by the frozen edges (0 and ``math.inf`` for the open
    ends), within ``style`` when given; None while the schema leaves the edges unset."""
    edges = band_edges(attr, style)
    if edges is None:
        return None
    i = band_names(attr).index(band)
    return (edges[i - 1] if i > 0 else 0.0, edges[i] if i < len(edges) else math.inf)


def write_band_edges(edges: dict[str, list[float]], path: Path | None = None) -> None:
    """Write numeric edges of band attributes into the schema file (only `edges` change).

    Used once by `manage.py build_dataset` to freeze the density and register tertiles; the
    cached schema is dropped so that readers in this process see the new edges.
    """
    import re

    path = path or SCHEMA_PATH
    text = path.read_text(encoding="utf-8")
    for attr, values in edges.items():
        # Replace only this attribute's edges, keeping the file's hand-written layout.
        pattern = re.compile('("' + re.escape(attr) + r'"\s*:\s*\{[^{}]*?"edges"\s*:\s*)'
                             r"(null|\[[^\]]*\])")
        literal = "[" + ", ".join(repr(round(float(v), 4)) for v in values) + "]"
        text, n = pattern.subn(lambda m, lit=literal: m.group(1) + lit, text, count=1)
        if n != 1:
            raise KeyError(f"no edges field for {attr!r} in {path}")
    json.loads(text)  # refuse to write a file that no longer parses
    path.write_text(text, encoding="utf-8")
    load_schema.cache_clear()


def write_style_edges(edges: dict[str, dict[str, list[float]]], path: Path | None = None
                      ) -> None:
    """Write per-style edges (``{attr: {style: [lo, hi]}}``) into the schema file as each
    attribute's ``by_style``, right after its ``edges`` (replacing an older ``by_style``).

    Used by ``python -m generation.ml.style_bands``; like ``write_band_edges`` it keeps the
    rest of the hand-written file as it is."""
    import re

    path = path or SCHEMA_PATH
    text = path.read_text(encoding="utf-8")
    for attr, per_style in edges.items():
        unknown = set(per_style) - set(STYLES)
        if unknown:
            raise KeyError(f"unknown styles {sorted(unknown)}")
        body = ", ".join(f'"{st}": [' + ", ".join(repr(round(float(v), 4)) for v in e) + "]"
                         for st, e in per_style.items())
        pattern = re.compile('("' + re.escape(attr) + r'"\s*:\s*\{[^{}]*?"edges"\s*:\s*'
                             r'(?:null|\[[^\]]*\]))(\s*,\s*"by_style"\s*:\s*\{[^{}]*\})?')
        text, n = pattern.subn(lambda m, b=body: m.group(1) + ',\n      "by_style": {' + b + "}",
                               text, count=1)
        if n != 1:
            raise KeyError(f"no edges field for {attr!r} in {path}")
    json.loads(text)  # refuse to write a file that no longer parses
    path.write_text(text, encoding="utf-8")
    load_schema.cache_clear()
