"""Evaluation of the v2 (grid) model beside v1: ``python -m generation.ml.evaluate_v2``.

Prints JSON and writes ``EVALUATION.json`` into the v2 checkpoint folder (``--out`` to write
elsewhere). Sections, each measured on held-out (test split) music or on generations made
with fixed seeds:

- ``nll``: bits per note on the test pieces, per style, v2 on its own grid sequences and v1
  on its own event windows of the same split (v2 also pays log2(12) bits per piece for the
  key it moved to C, so both describe the same notes);
- ``generations``: compositions of ``bars`` bars over every style and attribute setting, as
  served (the engine's default candidates) and bare (one sample): meters outside the style,
  wrong bar counts, valid MIDI, attribute control, the bare model's mode following;
- ``two_sample``: cross-validated accuracy of a classifier of musical features telling the
  served generations from real test excerpts of the same length, per style and overall;
- ``copy``: share of pieces whose top line shares a run of 8 (interval, duration) steps with
  a training piece, generated against real test excerpts;
- ``critic``: fault rates per 10 notes, generated against real;
- ``speed``: seconds for 16 bars as served, v1 and v2 side by side in one run (medians).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from generation.ml import compose_v2, engines
from generation.ml.grid_data import build_sequences
from generation.ml.two_sample import copy_rate, features, interval_runs, two_sample_accuracy
from generation.music.attributes import measure_attributes
from generation.music.critic import critique
from generation.music.grid import STYLE_METERS, STYLE_VOICES, GridCodec, bar_frames

ATTRS = ("mode", "density_band", "register_band")


@torch.no_grad()
def v2_bits_per_note(engine, split: str = "test", limit: int | None = None) -> dict:
    codec, model = engine.codec, engine.model
    block = model.config.block_size
    seqs = build_sequences(split, codec, limit=limit)
    acc: dict[str, dict] = {}
    seen_pieces: dict[str, set] = {}
    for s in seqs:
        if s.piece_id in seen_pieces.setdefault(s.style, set()):
            continue  # one voice subset per piece
        seen_pieces[s.style].add(s.piece_id)
        V, F = STYLE_VOICES[s.style], bar_frames(s.style, s.meter)
        per_bar = 1 + V * F
        body = s.tokens[4:]
        fit = max(1, (block - 4) // per_bar)
        nats, notes = 0.0, 0
        for start in range(0, len(body), fit * per_bar):
            chunk = np.concatenate([s.tokens[:4], body[start:start + fit * per_bar]])
            x = torch.from_numpy(chunk[None, :-1]).to(engine.device)
            slots = torch.from_numpy(codec.slots(s.style, s.meter, len(chunk))[None, :-1])
            logits, _ = model(x, slots=slots.to(engine.device))
            logp = torch.log_softmax(logits.float(), -1)[0]
            y = torch.from_numpy(chunk[1:])
            lp = logp.gather(-1, y[:, None].to(logp.device))[:, 0][3:]  # body tokens only
            nats -= float(lp.sum())
            notes += int(sum(codec.is_pitch(int(t)) for t in chunk[4:]))
        a = acc.setdefault(s.style, {"pieces": 0, "notes": 0, "bits": 0.0})
        a["pieces"] += 1
        a["notes"] += notes
        a["bits"] += nats / math.log(2) + math.log2(12)
    return {k: {"pieces": v["pieces"], "notes": v["notes"],
                "bits_per_note": round(v["bits"] / max(1, v["notes"]), 3)}
            for k, v in sorted(acc.items())}


def v1_bits_per_note() -> dict:
    from generation.ml import evaluate as ev

    engine = engines.load("v1")
    ev._STATE["engine"] = engine
    tok = engine.tok
    test = ev.eval_windows("test")
    bits = ev._transformer_bits([s for _, s in test], tok.PREFIX_LEN - 1)
    d_a, d_b = tok.ranges["Dur"]
    acc: dict[str, dict] = {}
    for (st, s), (b, _) in zip(test, bits, strict=True):
        a = acc.setdefault(tok.config.styles[st], {"windows": 0, "notes": 0, "bits": 0.0})
        a["windows"] += 1
        a["notes"] += int(((s >= d_a) & (s < d_b)).sum())
        a["bits"] += b
    return {k: {"windows": v["windows"], "notes": v["notes"],
                "bits_per_note": round(v["bits"] / max(1, v["notes"]), 3)}
            for k, v in sorted(acc.items())}


def generations(engine, per_style: int, bars: int, candidates: int | None,
                seed: int = 1000, piece_bars: dict[str, list[int]] | None = None,
                **decode) -> list[dict]:
    """Compositions over every style x attribute setting (cycled), fixed seeds; ``decode``
    (temperature, top_p) goes to ``compose`` as it is. ``piece_bars`` (style -> lengths,
    cycled): make each the opening of a piece that long rather than a whole piece."""
    settings = list(itertools.product(("major", "minor"), ("sparse", "moderate", "dense"),
                                      ("low", "middle", "high")))
    rng = np.random.default_rng(7)
    out = []
    module = engines.module_of(engine)
    kw = dict(decode) if candidates is None else {"candidates": candidates, **decode}
    for style in STYLE_VOICES:
        order = [settings[i] for i in rng.permutation(len(settings))]
        for i in range(per_style):
            mode, dens, reg = order[i % len(order)]
            target = {"mode": mode, "density_band": dens, "register_band": reg}
            t = time.perf_counter()
            more = {}
            if piece_bars and piece_bars.get(style):
                lengths = piece_bars[style]
                more["piece_bars"] = max(bars, lengths[i % len(lengths)])
            g = module.compose(target, style, bars=bars, seed=seed + i, model=engine, **kw,
                               **more)[0]
            out.append({"style": style, "target": target, "piece": g.piece, "bars": bars,
                        "seconds": time.perf_counter() - t,
                        "measured": measure_attributes(g.piece, style),
                        "measured_corpus_wide": measure_attributes(g.piece)})
    return out


def _control(gens: list[dict], ruler: str = "measured") -> dict:
    """Share of requests met, by attribute and all three at once. ``ruler`` "measured": the
    bands within the style (``schema`` by_style, what a request means to v2 and the studio);
    "measured_corpus_wide": the corpus-wide edges (by which no chorale is sparse or high)."""
    n = max(1, len(gens))
    out = {a: round(sum(g[ruler].get(a) == g["target"][a] for g in gens) / n, 4)
           for a in ATTRS}
    out["all_three"] = round(sum(all(g[ruler].get(a) == g["target"][a] for a in ATTRS)
                                 for g in gens) / n, 4)
    return out


def _form(gens: list[dict]) -> dict:
    from generation.music.notes import piece_to_midi_bytes
    from generation.music.validate import validate_midi

    bad_meter = sum(tuple(g["piece"].time_signature) not in STYLE_METERS[g["style"]]
                    for g in gens)
    wrong_bars = sum(g["piece"].bars != g["bars"] for g in gens)
    valid = 0
    for g in gens:
        try:
            back = validate_midi(piece_to_midi_bytes(g["piece"])).piece
            valid += back.note_count == g["piece"].note_count > 0
        except Exception:  # any failure to read back is an invalid file
            pass
    return {"n": len(gens), "meter_outside_style": bad_meter, "wrong_bar_count": wrong_bars,
            "valid_midi": round(valid / max(1, len(gens)), 4)}


def real_excerpts(per_style: int, bars: int, seed: int = 5) -> list[dict]:
    """Openings of test pieces through the same grid as the model's music."""
    from generation.ml.listening import _real_pool

    codec = GridCodec()
    import random

    rng = random.Random(seed)
    out = []
    for style in STYLE_VOICES:
        pool = _real_pool(style, bars, codec, rng)
        for _ in range(per_style):
            try:
                info, frames = next(pool)
            except StopIteration:
                break
            out.append({"style": style, "piece": codec.voices_to_piece(frames, style,
                                                                       tuple(info.meter)),
                        "piece_bars": int(info.bars)})
    return out


def _training_runs(n: int = 8) -> set:
    from generation.music.corpus import load_corpus

    corpus = load_corpus()
    runs: set = set()
    for info in corpus.select(split="train"):
        runs |= interval_runs(corpus.piece(info.id), n)
    return runs


def _critic_rates(pieces: list) -> dict:
    keys = ("parallels", "strong_dissonances", "crossings", "repeated_runs", "big_leaps",
            "silent_bars")
    rows = [critique(p) for p in pieces]
    out = {k: round(float(np.mean([getattr(r, k) / max(1, r.notes / 10) for r in rows])), 3)
           for k in keys}
    out["out_of_key"] = round(float(np.mean([r.out_of_key for r in rows])), 3)
    out["final_cadence"] = round(float(np.mean([r.final_cadence for r in rows])), 3)
    return out


def continuations(per_style: int = 4, seed_bars: int = 4, bars: int = 4) -> dict:
    """Openings of test pieces continued by ``bars`` bars: how many come back with exactly
    the bars asked (the new music reaches into the last asked bar and not past it) and the
    seed kept note for note."""
    engine = compose_v2.load_default_model()
    exact = kept = n = 0
    for k, r in enumerate(real_excerpts(per_style, seed_bars, seed=9)):
        seed_piece = r["piece"]
        g = compose_v2.continue_piece(seed_piece, bars=bars, seed=k, model=engine,
                                      style=r["style"])[0]
        bar = seed_piece.bar_beats
        new = [x for p in g.piece.parts for x in p.notes if x.onset >= g.boundary_beat - 1e-9]
        end = max((x.onset + x.duration for x in new), default=0.0)
        exact += g.boundary_beat + (bars - 1) * bar < end <= g.boundary_beat + bars * bar + 1e-9
        old = [sorted(x for x in p.notes if x.onset < g.boundary_beat - 1e-9)
               for p in g.piece.parts]
        kept += old == [sorted(p.notes) for p in seed_piece.parts]
        n += 1
    return {"continuations": n, "exact_bars": exact, "seed_kept": kept}


def harmonization(n: int = 10) -> dict:
    """Held-out chorale sopranos harmonized by v2 against Bach's own four parts: the critic's
    voice-leading faults per 10 notes, counted by the same code on both."""
    from generation.ml.grid_data import usable_meter
    from generation.ml.infill import harmonize
    from generation.music.corpus import load_corpus
    from generation.music.notes import Part, Piece

    corpus = load_corpus()
    infos = [i for i in corpus.select(split="test", style="chorale")
             if usable_meter(i) and len(i.parts) == 4][:n]
    bach, ours = [], []
    engine = compose_v2.load_default_model()
    for k, info in enumerate(infos):
        piece = corpus.piece(info.id)
        bach.append(piece)
        top = max(piece.parts, key=lambda p: sum(x.pitch for x in p.notes) / max(1, len(p.notes)))
        tune = Piece(parts=[Part(list(top.notes), top.program, name="Soprano")],
                     time_signatures=piece.time_signatures[:1], key=piece.key)
        ours.append(harmonize(tune, "chorale", seed=k, model=engine))
    from generation.music.voicing import mean_faults

    return {"chorales": len(infos), "v2": _critic_rates(ours), "bach": _critic_rates(bach),
            "voicing": {"v2": mean_faults(ours), "bach": mean_faults(bach)},
            "phrases": {"v2": phrase_figures(ours), "bach": phrase_figures(bach)}}


def phrase_figures(pieces: list) -> dict:
    """The chorale's chord and phrase counts of ``generation.music.voicing``, summed over
    ``pieces``: 6/4 chords (on beats, where a long top note begins), long top notes ending on
    a plain triad, lower voices rocking between two pitches, and in minor keys v-i against
    V-i at phrase ends (the key as written, or estimated)."""
    from generation.music import voicing
    from generation.music.grid import tonic_pc
    from generation.music.key import estimate_key

    six = np.array([voicing.six_fours(p) for p in pieces]).sum(axis=0)
    ends = np.array([voicing.phrase_end_chords(p) for p in pieces]).sum(axis=0)
    minor = np.zeros(2, dtype=int)
    for p in pieces:
        key = p.key or estimate_key(p)
        if key.endswith("minor"):
            minor += np.array(voicing.minor_cadences(p, tonic_pc(key)))
    return {"six_four_beats": int(six[0]), "six_four_at_long_notes": int(six[1]),
            "long_notes": int(ends[0]), "ending_on_plain_triad": int(ends[1]),
            "wobbles": int(sum(voicing.wobbles(p) for p in pieces)),
            "beat_pairs": int(sum(voicing.beat_parallels(p)[0] for p in pieces)),
            "beat_to_beat_parallels": int(sum(voicing.beat_parallels(p)[1] for p in pieces)),
            "long_notes_reached_by_a_fifth": int(sum(voicing.cadences(p)[1] for p in pieces)),
            "full_beats": int(sum(voicing.thin_beats(p)[0] for p in pieces)),
            "thin_beats": int(sum(voicing.thin_beats(p)[1] for p in pieces)),
            "chord_sevenths": int(sum(voicing.sevenths(p)[0] for p in pieces)),
            "sevenths_not_stepping_down": int(sum(voicing.sevenths(p)[1] for p in pieces)),
            "minor_v_i": int(minor[0]), "minor_V_i": int(minor[1])}


def _two_sample(real: list[dict], gens: list[dict]) -> dict:
    by_style = {}
    for style in STYLE_VOICES:
        a = [features(r["piece"]) for r in real if r["style"] == style]
        b = [features(g["piece"]) for g in gens if g["style"] == style]
        by_style[style] = round(two_sample_accuracy(a, b, folds=5), 3)
    return {"overall": round(two_sample_accuracy([features(r["piece"]) for r in real],
                                                 [features(g["piece"]) for g in gens]), 3),
            "per_style": by_style, "real_excerpts": len(real), "generated": len(gens)}


def speed(per_style: int = 2) -> dict:
    out = {}
    for version in ("v1", "v2"):
        engine = engines.load(version)
        module = engines.module_of(engine)
        times = []
        for style in STYLE_VOICES:
            for i in range(per_style):
                t = time.perf_counter()
                module.compose({}, style, bars=16, seed=50 + i, model=engine)
                times.append(time.perf_counter() - t)
        out[version] = {"median_s": round(statistics.median(times), 2),
                        "max_s": round(max(times), 2), "n": len(times)}
    out["ratio_v2_over_v1"] = round(out["v2"]["median_s"] / out["v1"]["median_s"], 2)
    return out


def evaluate(per_style: int = 24, bars: int = 8, quick: bool = False) -> dict:
    torch.set_num_threads(2)
    engine = compose_v2.load_default_model()
    res: dict = {"model_version": engine.version, "bars": bars, "per_style": per_style}
    t0 = time.time()
    res["nll"] = {"v2": v2_bits_per_note(engine, limit=8 if quick else None)}
    if not quick:
        res["nll"]["v1"] = v1_bits_per_note()
        res["nll"]["reduction_pct"] = {
            s: round(100 * (1 - res["nll"]["v2"][s]["bits_per_note"]
                            / res["nll"]["v1"][s]["bits_per_note"]), 1)
            for s in res["nll"]["v2"] if s in res["nll"]["v1"]}
    served = generations(engine, per_style, bars, None)
    bare = generations(engine, max(4, per_style // 2), bars, 1, seed=5000)
    res["served"] = {"control": _control(served),
                     "control_corpus_wide": _control(served, "measured_corpus_wide"),
                     "control_by_style": {st: _control([g for g in served if g["style"] == st])
                                          for st in STYLE_VOICES},
                     **_form(served),
                     "median_seconds": round(statistics.median(g["seconds"] for g in served),
                                             2)}
    res["bare"] = {"control": _control(bare),
                   "control_corpus_wide": _control(bare, "measured_corpus_wide"), **_form(bare)}
    real = real_excerpts(per_style, bars)
    res["two_sample"] = _two_sample(real, served)
    # like for like: the real excerpts are openings of longer pieces (most do not end at
    # bar 8); the same targets and seeds composed as openings of pieces as long as theirs
    lengths: dict[str, list[int]] = {}
    for r in real:
        lengths.setdefault(r["style"], []).append(r["piece_bars"])
    openings = generations(engine, per_style, bars, None, piece_bars=lengths)
    res["two_sample_openings"] = _two_sample(real, openings)
    res["openings"] = {"control": _control(openings),
                       "critic": _critic_rates([g["piece"] for g in openings]),
                       "median_piece_bars": {st: int(statistics.median(v))
                                             for st, v in lengths.items()}}
    runs = _training_runs()
    res["copy"] = {"generated": round(copy_rate([g["piece"] for g in served], runs), 3),
                   "real_heldout": round(copy_rate([r["piece"] for r in real], runs), 3)}
    res["critic"] = {"generated": _critic_rates([g["piece"] for g in served]),
                     "real": _critic_rates([r["piece"] for r in real])}
    if not quick:  # v1 as served, judged the same way in the same run
        v1 = engines.load("v1")
        gens1 = generations(v1, per_style, bars, None)
        res["v1"] = {"control": _control(gens1),
                     "control_corpus_wide": _control(gens1, "measured_corpus_wide"),
                     **_form(gens1),
                     "two_sample": _two_sample(real, gens1),
                     "copy": round(copy_rate([g["piece"] for g in gens1], runs), 3),
                     "critic": _critic_rates([g["piece"] for g in gens1])}
    res["continuation"] = continuations(1 if quick else 4)
    res["harmonization"] = harmonization(3 if quick else 10)
    res["speed_16_bars"] = speed(1 if quick else 2)
    res["seconds"] = round(time.time() - t0, 1)
    return res


# Decoding settings the sweep compares: (temperature, top_p, candidates); the first is served.
# (temperature, top_p, candidates, groups judged bar by bar; 0 = whole pieces only)
SWEEP = ((1.0, 0.95, 4, 0), (1.0, 0.95, 8, 0), (1.0, 0.95, 8, 2), (1.0, 0.95, 6, 1),
         (0.95, 0.95, 8, 2))


def _furthest(real_f: np.ndarray, spread: np.ndarray, gens: list[dict], n: int = 5) -> dict:
    """The two-sample features whose mean lies furthest from the real excerpts' mean, in
    the real excerpts' standard deviations (what gives the generated music away)."""
    from generation.ml.two_sample import FEATURE_NAMES

    gap = (np.array([features(g["piece"]) for g in gens]).mean(0) - real_f.mean(0)) / spread
    gap = np.clip(gap, -99, 99)
    return {FEATURE_NAMES[i]: round(float(gap[i]), 2) for i in np.argsort(-np.abs(gap))[:n]}


def sweep(engine, per_style: int = 8, bars: int = 8, settings=SWEEP) -> list[dict]:
    """The same seeds and targets under each decoding setting, judged against the same real
    excerpts: fault rates, the two-sample accuracy (0.5 = indistinguishable), control, time.
    A way to choose the served decoding with musicality in view, before a blind judge."""
    real = real_excerpts(per_style, bars)
    rows = [{"setting": "real", **_critic_rates([r["piece"] for r in real])}]
    real_f = np.array([features(r["piece"]) for r in real])
    spread = real_f.std(0) + 1e-9
    for temperature, top_p, candidates, groups in settings:
        gens = generations(engine, per_style, bars, candidates, temperature=temperature,
                           top_p=top_p, groups=groups)
        rows.append({"setting": f"T={temperature} p={top_p} c={candidates} g={groups}",
                     **_critic_rates([g["piece"] for g in gens]),
                     "two_sample": _two_sample(real, gens)["overall"],
                     "control_all": _control(gens)["all_three"],
                     "median_s": round(statistics.median(g["seconds"] for g in gens), 2),
                     "furthest_from_real": _furthest(real_f, spread, gens)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Evaluate the v2 model beside v1.")
    p.add_argument("--per-style", type=int, default=24)
    p.add_argument("--bars", type=int, default=8)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sweep", action="store_true",
                   help="compare decoding settings (prints a table; writes nothing)")
    p.add_argument("--checkpoint", default=None,
                   help="a checkpoint folder to sweep instead of the committed one")
    p.add_argument("--out", default=str(compose_v2.DEFAULT_CHECKPOINT / "EVALUATION.json"))
    a = p.parse_args(argv)
    if a.sweep:
        torch.set_num_threads(1)
        engine = (compose_v2.load_model(a.checkpoint) if a.checkpoint
                  else compose_v2.load_default_model())
        rows = sweep(engine, a.per_style if a.per_style != 24 else 8, a.bars)
        print(json.dumps(rows, indent=1))
        return
    res = evaluate(a.per_style, a.bars, a.quick)
    text = json.dumps(res, indent=1)
    Path(a.out).write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
