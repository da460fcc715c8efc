"""Repair and harmonize with the v2 grid model (no Django).

``infill(piece, start_bar, end_bar, voices=None, ...)`` rewrites bars ``start_bar..end_bar``
(1-based, inclusive) of the chosen voices (1 = the highest line; all by default). The model
is causal, so the music before the selection is its context while it samples, and the music
after it is used to choose: ``candidates`` rewrites are sampled and the one with the best
likelihood of itself *and of the bars that follow it* (up to ``LOOKAHEAD_BARS``) is kept,
minus the critic's penalty, so the new bars lead into what follows. In a chorale the
rewritten voices keep the voicing rules (``generation.music.voicing``) against each other
and against the voices kept. Voices not chosen are
given to the model as fixed tokens inside the selection. Everything outside the selection
(every note that starts before or after it, and every note of a voice not chosen) is
returned unchanged, note for note; a note held into the selection keeps sounding and the
rewrite starts after it; rewritten notes end at the selection's end.

``harmonize(melody, style="chorale")`` keeps the melody as the top voice (fixed tokens) and
samples alto, tenor and bass under it, keeping the chorale's voicing rules note by note
(``generation.music.voicing``: ranges, spacing, no crossing, no clash, no voice dropping out
under the melody); for the folk styles the same four-part harmony is
returned as the melody plus an accompaniment part (the lower voices) for keyboard.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from generation.ml.compose_v2 import (
    CRITIC_WEIGHT,
    GridEngine,
    bar_critic,
    load_default_model,
    sample_bars,
)
from generation.music.attributes import measure_attributes
from generation.music.critic import critique, penalty
from generation.music.grid import (
    STYLE_GRID,
    STYLE_METERS,
    STYLE_VOICES,
    bar_frames,
    line_order,
    lines_to_frames,
    shift_to_c,
)
from generation.music.key import estimate_key
from generation.music.notes import Note, Part, Piece
from generation.music.voicing import CHORALE as CHORALE_VOICING
from generation.music.voicing import SOPRANO_MEDIAN, Voicing
from generation.music.voicing import for_style as voicing_for_style

LOOKAHEAD_BARS = 4
DEFAULT_CANDIDATES = 6
# The candidates are judged bar by bar by the critic in this many groups (compose_v2's
# ``sample_bars``); the best of the groups' results is kept.
BAR_GROUPS = 2
# Harmonizing has the melody fixed and three voices free in every bar: more candidates per
# group found far fewer faults (10 held-out chorale sopranos, step-3300 weights: parallels per
# 10 notes 0.164 with 8 candidates, 0.045 with 16, 0.051 with 24; Bach 0), at about 1.8x the
# time of 8.
HARMONIZE_CANDIDATES = 16


class InfillError(ValueError):
    """A request that cannot be served (bars outside the piece, no melody ...)."""


def _style_for(piece: Piece, n_lines: int, style: str | None) -> str:
    meter = piece.time_signature
    if style:
        if style not in STYLE_VOICES:
            raise InfillError(f"unknown style {style!r}; one of {', '.join(STYLE_VOICES)}")
        if STYLE_VOICES[style] != n_lines:
            raise InfillError(f"{style} is written in {STYLE_VOICES[style]} voice(s); "
                              f"this piece has {n_lines}")
        return style
    options = [s for s, v in STYLE_VOICES.items() if v == n_lines]
    if not options:
        raise InfillError(f"the model writes one line or four voices; this piece has {n_lines}")
    fitting = [s for s in options if tuple(meter) in STYLE_METERS[s]]
    return (fitting or options)[0]


@torch.no_grad()
def _sequence_logp(engine: GridEngine, prefix: list[int], style: str, meter, frames_rows,
                   total_bars: int, first_bar: int, score_from_bar: int) -> list[float]:
    """Log-likelihood (nats) of the bars from ``score_from_bar`` on, per row of frames
    ((bars*F, V) each, starting at bar ``first_bar`` of the piece, 0-based)."""
    codec, model = engine.codec, engine.model
    V, F = STYLE_VOICES[style], bar_frames(style, meter)
    per_bar = 1 + V * F
    fit = max(1, (model.config.block_size - len(prefix)) // per_bar)
    out = []
    for frames in frames_rows:
        n_bars = frames.shape[0] // F
        keep = max(0, n_bars - fit)
        toks = list(prefix)
        for b in range(keep, n_bars):
            toks.append(codec.bar_id(total_bars - (first_bar + b)))
            toks.extend(frames[b * F:(b + 1) * F].reshape(-1).tolist())
        x = torch.tensor([toks[:-1]], device=engine.device)
        slots = torch.from_numpy(codec.slots(style, meter, len(toks))[None, :-1])
        logits, _ = model(x, slots=slots.to(engine.device))
        logp = torch.log_softmax(logits.float(), -1)[0]
        lp = logp.gather(-1, torch.tensor(toks[1:], device=logp.device)[:, None])[:, 0]
        start = len(prefix) + max(0, score_from_bar - keep) * per_bar - 1
        out.append(float(lp[max(0, start):].sum()))
    return out


def infill(piece: Piece, start_bar: int, end_bar: int, voices: list[int] | None = None,
           style: str | None = None, attributes: dict | None = None, seed: int = 0,
           model: GridEngine | None = None, candidates: int = DEFAULT_CANDIDATES,
           temperature: float = 1.0, top_p: float = 0.95) -> Piece:
    """The piece with bars ``start_bar..end_bar`` of ``voices`` rewritten (module doc)."""
    engine = model or load_default_model()
    codec = engine.codec
    order = line_order(piece)
    if not order:
        raise InfillError("the piece has no pitched notes")
    style = _style_for(piece, len(order), style)
    V, meter = STYLE_VOICES[style], tuple(piece.time_signature)
    try:
        F = bar_frames(style, meter)
    except ValueError as exc:
        raise InfillError(str(exc)) from None
    total = piece.bars
    if not 1 <= start_bar <= end_bar <= total:
        raise InfillError(f"bars {start_bar}-{end_bar} are outside the piece (1-{total})")
    voices = sorted(set(voices or range(1, V + 1)))
    if not voices or any(not 1 <= v <= V for v in voices):
        raise InfillError(f"voices must be between 1 and {V}")
    step = STYLE_GRID[style]
    key = piece.key or estimate_key(piece)
    t = shift_to_c(key)
    lines = [sorted(piece.parts[i].notes) for i in order]
    grid = lines_to_frames(lines, total * F, step, 0, t, codec)
    s0, s1 = (start_bar - 1) * F, end_bar * F
    bar_beats = piece.bar_beats
    b0, b1 = (start_bar - 1) * bar_beats, end_bar * bar_beats
    fixed = np.full((s1 - s0, V), -1, dtype=np.int64)
    for v in range(V):
        if v + 1 not in voices:
            fixed[:, v] = grid[s0:s1, v]
            continue
        held = [n for n in lines[v] if n.onset < b0 - 1e-9 and n.onset + n.duration > b0 + 1e-9]
        if held:  # a note held into the selection keeps sounding
            until = min(s1 - s0, round((held[0].onset + held[0].duration - b0) / float(step)))
            fixed[:until, v] = codec.hold
    measured = measure_attributes(piece, style)
    mode = (attributes or {}).get("mode") or measured.get("mode") or "major"
    dens = (attributes or {}).get("density_band") or measured.get("density_band") or "moderate"
    prefix_meter = meter if meter in STYLE_METERS[style] else STYLE_METERS[style][0]
    prefix = codec.prefix(style, prefix_meter, mode, dens)
    seeds = [seed * 1000 + c for c in range(max(1, candidates))]
    with engine.lock:
        samples = sample_bars(engine, prefix, grid[:s0], style, meter, total,
                              end_bar - start_bar + 1, seeds, temperature, top_p, fixed=fixed,
                              bar_fault=bar_critic(engine, style, meter, mode),
                              groups=BAR_GROUPS, voicing=voicing_for_style(style, t))
        after = min(total, end_bar + LOOKAHEAD_BARS)
        rows = [np.concatenate([grid[:s0], smp.frames, grid[s1:after * F]]) for smp in samples]
        scores = _sequence_logp(engine, prefix, style, meter, rows, total, 0, start_bar - 1)
    best, best_score = None, -math.inf
    for smp, lp in zip(samples, scores, strict=True):
        result = _splice(piece, order, smp.frames, voices, b0, b1, style, meter, -t, codec)
        score = lp - CRITIC_WEIGHT * penalty(critique(result), total)
        if score > best_score:
            best, best_score = result, score
    return best


def _splice(piece: Piece, order: list[int], frames: np.ndarray, voices: list[int], b0: float,
            b1: float, style: str, meter, transpose: int, codec) -> Piece:
    new = codec.voices_to_piece(frames, style, meter, transpose=transpose, start_beat=b0)
    parts = [Part(notes=list(p.notes), program=p.program, is_drum=p.is_drum, name=p.name)
             for p in piece.parts]
    for v in voices:
        part = parts[order[v - 1]]
        kept = [n for n in part.notes if not (b0 - 1e-9 <= n.onset < b1 - 1e-9)]
        # the grid's held-in frames are not new notes: only onsets inside the selection count
        fresh = [Note(n.onset, n.pitch, min(n.duration, b1 - n.onset), 80)
                 for n in new.parts[v - 1].notes if b0 - 1e-9 <= n.onset < b1 - 1e-9]
        held_in = any(n.onset < b0 - 1e-9 and n.onset + n.duration > b0 + 1e-9 for n in kept)
        if held_in:
            end_of_held = max(n.onset + n.duration for n in kept if n.onset < b0)
            fresh = [n for n in fresh if n.onset >= end_of_held - 1e-9]
        part.notes = sorted(kept + fresh)
    return Piece(parts=parts, tempos=list(piece.tempos),
                 time_signatures=list(piece.time_signatures), key=piece.key, title=piece.title)


def _voicing_for(tune: list[Note], transpose: int) -> Voicing:
    """The chorale's voicing rules in the grid's pitches, moved by octaves to a melody that
    lies far from a soprano's register (a tune in the bass clef, a piccolo line; an octave
    at most: the model has seen nothing further), so that the voices under it keep their
    spacing."""
    median = float(np.median([n.pitch for n in tune]))
    octaves = min(1, max(-1, round((median - SOPRANO_MEDIAN) / 12)))
    return CHORALE_VOICING.shifted(transpose + 12 * octaves)


def harmonize(melody: Piece, style: str = "chorale", seed: int = 0,
              model: GridEngine | None = None, candidates: int = HARMONIZE_CANDIDATES) -> Piece:
    """The melody (the highest line of ``melody``) with three voices written under it."""
    engine = model or load_default_model()
    codec = engine.codec
    order = line_order(melody)
    if not order:
        raise InfillError("the file has no melody (no pitched notes)")
    if style not in STYLE_VOICES:
        raise InfillError(f"unknown style {style!r}; one of {', '.join(STYLE_VOICES)}")
    four = "chorale" if STYLE_VOICES[style] == 1 else style
    meter = tuple(melody.time_signature)
    try:
        F = bar_frames(four, meter)
    except ValueError as exc:
        raise InfillError(str(exc)) from None
    total = melody.bars
    tune = sorted(melody.parts[order[0]].notes)
    key = melody.key or estimate_key(melody)
    t = shift_to_c(key)
    grid = lines_to_frames([tune], total * F, STYLE_GRID[four], 0, t, codec)
    fixed = np.full((total * F, 4), -1, dtype=np.int64)
    fixed[:, 0] = grid[:, 0]
    measured = measure_attributes(melody)
    prefix_meter = meter if meter in STYLE_METERS[four] else STYLE_METERS[four][0]
    # the middle of the chorales' own density bands (``schema`` by_style): a plain setting
    prefix = codec.prefix(four, prefix_meter, measured.get("mode") or "major", "moderate")
    seeds = [seed * 1000 + c for c in range(max(1, candidates))]
    with engine.lock:
        mode = measured.get("mode") or "major"
        samples = sample_bars(engine, prefix, np.zeros((0, 4), np.int64), four, meter, total,
                              total, seeds, fixed=fixed,
                              bar_fault=bar_critic(engine, four, meter, mode),
                              groups=BAR_GROUPS, voicing=_voicing_for(tune, t))
        scores = _sequence_logp(engine, prefix, four, meter, [s.frames for s in samples],
                                total, 0, 0)
    best, best_score = None, -math.inf
    programs = [melody.parts[order[0]].program] * 4
    for smp, lp in zip(samples, scores, strict=True):
        lower = codec.voices_to_piece(smp.frames, four, meter, transpose=-t, programs=programs)
        parts = [Part(notes=list(tune), program=melody.parts[order[0]].program,
                      name=melody.parts[order[0]].name or "Soprano")] + lower.parts[1:]
        result = Piece(parts=parts, tempos=list(melody.tempos),
                       time_signatures=list(melody.time_signatures), key=key,
                       title=melody.title)
        score = lp - CRITIC_WEIGHT * penalty(critique(result), total)
        if score > best_score:
            best, best_score = result, score
    if STYLE_VOICES[style] == 1:  # a folk tune: melody plus a keyboard accompaniment
        acc = Part(notes=sorted(n for p in best.parts[1:] for n in p.notes), program=0,
                   name="Accompaniment")
        best = Piece(parts=[best.parts[0], acc], tempos=best.tempos,
                     time_signatures=best.time_signatures, key=best.key, title=best.title)
    return best


# -- files in, files out (the command line's JSON) ---------------------------------------------
def _read(path) -> Piece:
    from pathlib import Path

    from generation.ml.compose import ComposeInputError
    from generation.music.validate import MidiValidationError, validate_midi

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ComposeInputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return validate_midi(data).piece
    except MidiValidationError as exc:
        raise ComposeInputError(str(exc)) from None


def parse_bars(text: str) -> tuple[int, int]:
    """"5-8" -> (5, 8); "5" -> (5, 5)."""
    from generation.ml.compose import ComposeInputError

    try:
        a, _, b = text.partition("-")
        start, end = int(a), int(b or a)
    except ValueError:
        raise ComposeInputError(f"--bars must look like 5-8, not {text!r}") from None
    if start < 1 or end < start:
        raise ComposeInputError(f"--bars {text}: an empty selection")
    return start, end


def _files(pieces: list[Piece], seeds: list[int], out_dir, engine, started: float,
           extra: dict) -> dict:
    import time
    from pathlib import Path

    from generation.music.notes import write_midi

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    variants = [{"files": {"midi": str(write_midi(p, out / f"variant-{i}.mid"))}, "seed": s,
                 "notes": p.note_count} for i, (p, s) in enumerate(zip(pieces, seeds,
                                                                       strict=True), start=1)]
    return {"files": dict(variants[0]["files"]), "variants": variants,
            "model_version": engine.version, **extra,
            "seconds": round(time.time() - started, 3)}


def _variants(make, seed: int | None, variants: int):
    """(pieces, seeds, engine): ``make(seed, engine)`` for each variant's seed; an
    InfillError becomes the command line's one-line error."""
    import secrets

    from generation.ml.compose import ComposeInputError

    if not 1 <= variants <= 8:
        raise ComposeInputError("variants must be between 1 and 8")
    engine = load_default_model()
    base = secrets.randbelow(2**31) if seed is None else int(seed)
    seeds = [base + i for i in range(variants)]
    try:
        return [make(s, engine) for s in seeds], seeds, engine
    except InfillError as exc:
        raise ComposeInputError(str(exc)) from None


def infill_file(path, out_dir, *, bars: str, voices: str | None = None, seed: int | None = None,
                variants: int = 1, style: str | None = None) -> dict:
    """A MIDI file with bars rewritten -> variant-N.mid files; the CLI's JSON."""
    import time

    from generation.ml.compose import ComposeInputError

    started = time.time()
    piece = _read(path)
    start, end = parse_bars(bars)
    try:
        chosen = [int(v) for v in voices.split(",")] if voices else None
    except ValueError:
        raise ComposeInputError(f"--voices must look like 2,3, not {voices!r}") from None
    pieces, seeds, engine = _variants(
        lambda s, e: infill(piece, start, end, voices=chosen, style=style, seed=s, model=e),
        seed, variants)
    return _files(pieces, seeds, out_dir, engine, started,
                  {"bars": [start, end], "voices": chosen or "all"})


def harmonize_file(path, out_dir, *, style: str = "chorale", seed: int | None = None,
                   variants: int = 1) -> dict:
    """A melody MIDI file -> harmonized variant-N.mid files; the CLI's JSON."""
    import time

    started = time.time()
    piece = _read(path)
    pieces, seeds, engine = _variants(
        lambda s, e: harmonize(piece, style=style, seed=s, model=e), seed, variants)
    return _files(pieces, seeds, out_dir, engine, started, {"style": style})
