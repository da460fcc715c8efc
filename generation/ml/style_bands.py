"""Density and register bands within each style: ``python -m generation.ml.style_bands``.

The corpus-wide tertiles (``attributes_schema.json`` ``edges``) are set by one-line tunes: by
them every chorale is "dense" and "low" (340 of 340), so asking for a sparse or a high
chorale asked for something no chorale is, and a composer could only meet it by writing
whole notes or a soprano at C6. Within a style the bands mean what a musician asking for a
calmer or brighter chorale means: fewer notes or a higher key than most chorales.

This computes, for each style, the tertiles of density (onsets per beat) and register (mean
pitch, in the piece's own key) over the training split as the v2 model sees it (its voices,
on its grid: ``grid_data.measures``) and writes them into the schema as ``by_style``. The v2
training labels, its composer and its evaluation read them through ``schema``; v1 keeps the
corpus-wide edges it was trained on. Run once; the figures are frozen in the schema.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from generation.music import schema
from generation.music.grid import STYLE_VOICES, GridCodec


def style_tertiles(seqs) -> dict[str, dict[str, list[float]]]:
    """``{"density_band": {style: [lo, hi]}, "register_band": {...}}`` from sequences that
    carry ``style``, ``density`` and ``register`` (``grid_data.GridSequence``)."""
    out: dict[str, dict[str, list[float]]] = {"density_band": {}, "register_band": {}}
    for style in STYLE_VOICES:
        mine = [s for s in seqs if s.style == style]
        if not mine:
            continue
        for attr, values in (("density_band", [s.density for s in mine]),
                             ("register_band", [s.register for s in mine])):
            lo, hi = np.percentile(np.asarray(values, dtype=float), [100 / 3, 200 / 3])
            out[attr][style] = [round(float(lo), 4), round(float(hi), 4)]
    return out


def main(argv=None) -> None:
    from generation.ml.grid_data import build_sequences

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--schema", default=None, help="schema file to write (default: the one)")
    p.add_argument("--dry-run", action="store_true", help="print the edges, write nothing")
    a = p.parse_args(argv)
    seqs = build_sequences("train", GridCodec())
    edges = style_tertiles(seqs)
    for attr, per in edges.items():
        for style, e in per.items():
            print(f"{attr:14s} {style:13s} {e}")
    if not a.dry_run:
        schema.write_style_edges(edges, Path(a.schema) if a.schema else None)


if __name__ == "__main__":
    main()
