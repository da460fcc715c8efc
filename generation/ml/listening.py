"""The blind listening harness: real held-out excerpts and generated ones, written alike.

``make_set(out_dir, ...)`` writes a shuffled set of items ``item01`` .. ``itemNN``, each as
MIDI, MusicXML and engraved SVG (and PNG where ``rsvg-convert`` exists), plus the answer key
in ``key.json`` beside the items' folder (never inside it), and a ``PROTOCOL.md`` for the
judge. Real excerpts are openings of held-out (test split) pieces; generated ones are made
for the same style, meter, mode, density band and register band as a real excerpt of a
*different* held-out piece, so no pair of items shares an opening.

Written identically (``normalise``): every item passes through the same grid as the model's
own music (the style's voices, onsets and lengths on the style's grid), then one instrument
(acoustic grand piano), one tempo per style, velocity 80 everywhere, parts named "Voice 1..",
no title, the key signature estimated from the notes; MIDI files carry the same meta messages
(but the key signature).

Tasks:
- ``compose``: the first ``bars`` bars of a real piece against the first ``bars`` bars the
  model composes for a piece as long as the matched real one (v2: ``piece_bars``; a real
  8-bar folk song ends at bar 8, a chorale's opening goes on, and so do the model's);
- ``continue``: a real piece's first ``bars`` bars against another piece's first ``bars/2``
  bars continued by the model for ``bars/2`` bars (the judge hears the seam in both);
- ``infill``: a real excerpt against the same kind of excerpt with bars 5-8 rewritten;
- ``harmonize`` (chorales; the default styles are ``["chorale"]``): Bach's own setting of a
  held-out chorale against the model's three lower voices under the soprano of another
  held-out chorale (different melodies, as everywhere here: no pair shares an opening).

``score(key_path, judgements_csv)`` reads the judge's CSV (item, verdict real|generated,
confidence 1-5, musicality 1-5, reason) and returns accuracy and mean musicality by style
and source.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generation.music.attributes import measure_attributes
from generation.music.corpus import load_corpus
from generation.music.grid import (
    STYLE_GRID,
    STYLE_METERS,
    STYLE_VOICES,
    GridCodec,
    bar_frames,
    lines_to_frames,
    pickup_shift,
    voice_lines,
)
from generation.music.key import estimate_key
from generation.music.notes import Note, Part, Piece, piece_to_midi_bytes

TEMPO = {"chorale": 72.0, "renaissance": 96.0, "german_folk": 100.0, "chinese_folk": 80.0,
         "celtic": 112.0}
PROGRAM = 0  # acoustic grand piano for every item
VELOCITY = 80
TASKS = ("compose", "continue", "infill", "harmonize")

PROTOCOL = """# Listening test protocol

You are given {n} short musical excerpts (item01 .. item{n:02d}) in folder `items/`, each as
an engraved score (`.png` / `.svg`), MusicXML and MIDI. Some are openings of real pieces of
music (Bach chorales, Renaissance polyphony, German folk songs, Chinese folk songs, Irish
fiddle tunes); the others were written by a computer program for the same style. All were
written out the same way: one instrument, one tempo, equal loudness, no title; each with
the key signature of the key its notes suggest. Styles are not labelled; judge each excerpt on its own.

For each item, decide whether it is real (composed by a person) or generated, how sure you
are (1 = guess, 5 = certain), and how musical it is (1 = not music, 3 = plausible,
5 = excellent), with a short reason (what gave it away or what convinced you). Read the
scores as a musician would: voice leading, harmony, cadences, phrase shape, melody,
rhythm, repetition and form.

Write your answers as CSV with the header

    item,verdict,confidence,musicality,reason

one row per item, verdict `real` or `generated`.
"""


@dataclass
class Item:
    name: str
    source: str  # "real" or "generated"
    style: str
    piece_id: str
    model: str = ""
    task: str = "compose"


def _excerpt_lines(piece: Piece, style: str, meter: tuple[int, int], key_shift: int,
                   bars: int, codec: GridCodec) -> np.ndarray | None:
    """The first ``bars`` bars of a piece on the style's grid ((bars*F, V) tokens), pickup
    re-aligned, the style's voices; None when the piece has too few lines or bars."""
    lines = voice_lines(piece)
    V = STYLE_VOICES[style]
    if len(lines) < V or (V == 1 and len(lines) != 1):
        return None
    lines = lines[:V - 1] + [lines[-1]] if V > 1 else lines[:1]
    step = STYLE_GRID[style]
    F = bar_frames(style, meter)
    shift = pickup_shift(lines, meter, step)
    frames = lines_to_frames(lines, bars * F, step, shift, key_shift, codec)
    if (frames == codec.rest).all(axis=1)[-F:].all():
        return None  # the piece is shorter than the excerpt
    return frames


def normalise(piece: Piece, style: str, meter: tuple[int, int]) -> Piece:
    """The one way every item is written: piano, the style's tempo, velocity 80, no names,
    the key signature of the key estimated from the notes (for real and generated alike)."""
    parts = [Part(notes=[n.__class__(n.onset, n.pitch, n.duration, VELOCITY)
                         for n in sorted(p.notes)], program=PROGRAM, name=f"Voice {i + 1}")
             for i, p in enumerate(p for p in piece.parts if p.notes and not p.is_drum)]
    return Piece(parts=parts, tempos=[(0.0, TEMPO[style])],
                 time_signatures=[(0.0, meter[0], meter[1])],
                 key=estimate_key(piece) if piece.note_count else None, title="")


def _write_item(piece: Piece, folder: Path, name: str) -> None:
    """MIDI, and the score engraved exactly as the studio engraves a track (MusicXML, SVG
    pages, a PNG of each where ``rsvg-convert`` exists, for judges who read images)."""
    from generation.render.notation import render_notation

    (folder / f"{name}.mid").write_bytes(piece_to_midi_bytes(piece))
    tmp = folder / f".{name}-engrave"
    result = render_notation(piece, tmp)
    shutil.move(str(result["musicxml"]), folder / f"{name}.musicxml")
    for page, svg in enumerate(result.get("svg", []), start=1):
        target = folder / (f"{name}.svg" if page == 1 else f"{name}-p{page}.svg")
        shutil.move(str(svg), target)
        if shutil.which("rsvg-convert"):  # librsvg2-bin
            subprocess.run(["rsvg-convert", "-b", "white", "-w", "1400", str(target), "-o",
                            str(target.with_suffix(".png"))], check=False, timeout=60)
    shutil.rmtree(tmp, ignore_errors=True)


def _real_pool(style: str, bars: int, codec: GridCodec, rng: random.Random):
    corpus = load_corpus()
    infos = [i for i in corpus.select(split="test", style=style)
             if tuple(i.meter) in STYLE_METERS[style]]
    rng.shuffle(infos)
    for info in infos:
        piece = corpus.piece(info.id)
        frames = _excerpt_lines(piece, style, tuple(info.meter), 0, bars, codec)
        if frames is not None:
            yield info, frames


def _all_voices_sound(codec, frames, style: str, meter) -> bool:
    piece = codec.voices_to_piece(frames, style, meter)
    return sum(1 for part in piece.parts if part.notes) == STYLE_VOICES[style]


def make_set(out_dir: str | Path, per_style: int = 3, bars: int = 8, task: str = "compose",
             model=None, styles: list[str] | None = None, seed: int = 0,
             candidates: int | None = None) -> dict:
    """Write a listening set (see the module doc). ``model``: a loaded engine with the
    compose API (v1 or v2; default the v2 engine). Returns {"items": n, "key": path}."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}")
    from generation.ml import compose_v2

    engine = model or compose_v2.load_default_model()
    module = compose_v2 if isinstance(engine, compose_v2.GridEngine) else None
    if module is None:
        from generation.ml import compose as module  # v1
    codec = GridCodec()
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    items_dir = out_dir / "items"
    if items_dir.exists():
        shutil.rmtree(items_dir)
    items_dir.mkdir(parents=True)
    entries: list[tuple[Piece, Item, tuple[int, int]]] = []
    version = getattr(engine, "version", "")
    if task == "harmonize":
        styles = styles or ["chorale"]
        if any(STYLE_VOICES[s] == 1 for s in styles):
            raise ValueError("harmonize needs styles of several voices (chorale, renaissance)")
    for style in styles or list(STYLE_VOICES):
        pool = _real_pool(style, bars, codec, rng)
        for _k in range(per_style):
            info_r, frames_r = next(pool)
            info_g, frames_g = next(pool)
            while task in ("infill", "harmonize") and not _all_voices_sound(
                    codec, frames_g, style, tuple(info_g.meter)):
                # a voice silent the whole excerpt (a late imitative entry) is no piece of
                # that many voices to rewrite: the next one
                info_g, frames_g = next(pool)
            meter = tuple(info_r.meter)
            real = codec.voices_to_piece(frames_r, style, meter)
            entries.append((real, Item("", "real", style, info_r.id, "", task), meter))
            gen_seed = seed * 10_000 + len(entries)
            kw = {} if candidates is None else {"candidates": candidates}
            if task == "compose":
                wanted = measure_attributes(codec.voices_to_piece(frames_g, style, meter),
                                            style)
                attrs = {k2: wanted.get(k2) for k2 in ("mode", "density_band", "register_band")}
                if module.__name__.endswith("compose_v2"):
                    # the opening of a piece as long as the matched real one, as the real
                    # excerpts are openings: an 8-bar piece ends, an opening need not
                    kw["piece_bars"] = max(bars, info_g.bars)
                g = module.compose(attrs, style, bars=bars, seed=gen_seed, meter=meter,
                                   model=engine, **kw)[0].piece
                gmeter = g.time_signature
            else:
                meter_g = tuple(info_g.meter)
                seed_bars = bars // 2 if task == "continue" else 4
                F = bar_frames(style, meter_g)
                seed_piece = codec.voices_to_piece(frames_g[:seed_bars * F], style, meter_g)
                if task == "continue":
                    if module.__name__.endswith("compose_v2"):  # the opening goes on
                        kw["piece_bars"] = max(bars, info_g.bars)
                    g = module.continue_piece(seed_piece, bars=bars - seed_bars, style=style,
                                              seed=gen_seed, model=engine, **kw)[0].piece
                elif task == "infill":
                    from generation.ml.infill import infill

                    whole = codec.voices_to_piece(frames_g, style, meter_g)
                    g = infill(whole, 5, 8, style=style, seed=gen_seed, model=engine)
                else:
                    from generation.ml.infill import harmonize

                    whole = codec.voices_to_piece(frames_g, style, meter_g)
                    top = max((p for p in whole.parts if p.notes),
                              key=lambda p: np.mean([n.pitch for n in p.notes]))
                    soprano = Piece(parts=[top], tempos=list(whole.tempos),
                                    time_signatures=list(whole.time_signatures))
                    g = harmonize(soprano, style=style, seed=gen_seed, model=engine)
                gmeter = meter_g
            entries.append((g, Item("", "generated", style, info_g.id, version, task), gmeter))
    rng.shuffle(entries)
    key = {}
    for n, (piece, item, meter) in enumerate(entries, start=1):
        item.name = f"item{n:02d}"
        _write_item(normalise(piece, item.style, meter), items_dir, item.name)
        key[item.name] = item.__dict__
    key_path = out_dir / "key.json"
    key_path.write_text(json.dumps(key, indent=1), encoding="utf-8")
    (items_dir / "PROTOCOL.md").write_text(PROTOCOL.format(n=len(entries)), encoding="utf-8")
    return {"items": len(entries), "key": str(key_path), "folder": str(items_dir)}


def score(key_path: str | Path, judgements_csv: str | Path) -> dict:
    """Accuracy (share of items the judge labelled correctly) and mean musicality, overall,
    by source and by style x source."""
    key = json.loads(Path(key_path).read_text(encoding="utf-8"))
    rows = list(csv.DictReader(Path(judgements_csv).open(encoding="utf-8")))
    seen = {}
    for r in rows:
        name = (r.get("item") or "").strip()
        if name not in key:
            raise ValueError(f"unknown item {name!r} in the judgements")
        verdict = (r.get("verdict") or "").strip().lower()
        if verdict not in ("real", "generated"):
            raise ValueError(f"{name}: verdict must be real or generated, not {verdict!r}")
        seen[name] = (verdict, float(r.get("musicality") or "nan"))
    missing = sorted(set(key) - set(seen))
    correct = [seen[n][0] == key[n]["source"] for n in seen]
    out: dict = {"items": len(seen), "missing": missing,
                 "accuracy": round(float(np.mean(correct)), 3) if correct else None}

    def mean(names):
        vals = [seen[n][1] for n in names if not np.isnan(seen[n][1])]
        return round(float(np.mean(vals)), 2) if vals else None

    for source in ("real", "generated"):
        out[f"musicality_{source}"] = mean([n for n in seen if key[n]["source"] == source])
    by_style = {}
    for style in sorted({key[n]["style"] for n in seen}):
        names = [n for n in seen if key[n]["style"] == style]
        by_style[style] = {
            "n": len(names),
            "accuracy": round(float(np.mean([seen[n][0] == key[n]["source"] for n in names])),
                              3),
            "real": mean([n for n in names if key[n]["source"] == "real"]),
            "generated": mean([n for n in names if key[n]["source"] == "generated"]),
        }
    out["by_style"] = by_style
    return out


# ---------------------------------------------------------------------------------------------
# Clips for the studio's blind listening sessions
# ---------------------------------------------------------------------------------------------
def reference_excerpt(piece: Piece, style: str, bars: int, programs: list[int]) -> Piece | None:
    """The first ``bars`` bars of a held-out piece, dressed as a generated track of ``style``
    is: the style's instruments (``programs``, cycled over the parts, as the composer writes
    them), the listening tempo of the style, no names, the key estimated from the notes. None
    when the piece is shorter than ``bars`` bars."""
    if piece.bars < bars:
        return None
    end = bars * piece.bar_beats
    parts = []
    for i, part in enumerate(p for p in piece.parts if p.notes and not p.is_drum):
        notes = [n.__class__(n.onset, n.pitch, min(n.duration, end - n.onset), n.velocity)
                 for n in sorted(part.notes) if n.onset < end]
        if notes:
            parts.append(Part(notes=notes, program=programs[i % len(programs)],
                              name=f"Voice {i + 1}"))
    if not parts:
        return None
    excerpt = Piece(parts=parts, tempos=[(0.0, TEMPO[style])],
                    time_signatures=[(0.0, *piece.time_signature)], title="")
    excerpt.key = estimate_key(excerpt)
    return excerpt


def random_notes(bars: int, rng: random.Random, meter: tuple[int, int] = (4, 4),
                 tempo: float = 100.0) -> Piece:
    """An attention check: notes of random pitch (two octaves around middle C) and length in
    one piano line, ``bars`` bars long. Any attentive listener scores it low."""
    beats = bars * meter[0] * 4 / meter[1]
    notes, onset = [], 0.0
    while onset < beats:
        duration = min(rng.choice((0.5, 0.5, 1.0, 1.5)), beats - onset)
        notes.append(Note(onset, rng.randint(48, 84), duration, VELOCITY))
        onset += duration
    return Piece(parts=[Part(notes=notes, program=PROGRAM, name="Voice 1")],
                 tempos=[(0.0, tempo)], time_signatures=[(0.0, *meter)], title="")
