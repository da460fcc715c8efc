"""Model evaluation: one function per section, and a combiner that writes the report.

Sections (each ``section(quick: bool) -> dict``; add one with ``register_section``):

- ``nll``: held-out negative log-likelihood per style on the test split, Transformer vs the
  5-gram Kneser-Ney baseline trained on the same training tokens; bits per token and per note
  and the reduction in %. Both models score the same non-overlapping windows (each with its
  own control prefix, as in training) on the same target tokens (the body, not the prefix).
- ``control``: attribute control accuracy. Generations across styles and attribute settings
  (mode x density band x register band), re-measured with
  ``generation.music.attributes.measure_attributes``; accuracy per attribute and for all three.
- ``muspy``: MusPy-style metric distributions of those generations vs held-out real excerpts
  of the same length: the overlapping area of the two histograms (1 = identical).
- ``validity``: the share of generations that are valid MIDI (written, read back through
  ``generation.music.validate.validate_midi`` when present, same notes).
- ``engraving``: ``generation.render.engraving_check`` over those generations (written as the
  pipeline writes them: notes fitted to the instruments' ranges) and over held-out corpus
  pieces: voices misnumbered, bars that do not add up, stray tuplets, notes beyond four
  ledger lines, notes out of range. Generated tracks should show 0.
- ``mood``: ``generation.ml.mood_eval.evaluate_mood`` when that module exists.
- ``transfer``: ``generation.ml.evaluate_transfer.evaluate_transfer`` (CycleGAN pairs).

``evaluate_models(quick)`` runs the sections, returns one JSON-able dict and writes
``reports/evaluation.md``.
"""

from __future__ import annotations

import importlib
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT_PATH = REPO_ROOT / "reports" / "evaluation.md"
METRICS = ("pitch_class_entropy", "scale_consistency", "groove_consistency", "empty_beat_rate",
           "pitch_range", "polyphony")

SECTIONS: dict[str, Callable[[bool], dict]] = {}


def register_section(name: str, fn: Callable[[bool], dict]) -> None:
    """Add (or replace) a report section; ``fn(quick)`` returns a JSON-able dict."""
    SECTIONS[name] = fn


# ---------------------------------------------------------------------------------------------
# Shared state: the model, the token cache, the generations (made once, used by 3 sections)
# ---------------------------------------------------------------------------------------------
_STATE: dict = {}


def _engine():
    if "engine" not in _STATE:
        from generation.ml.compose import load_default_model

        _STATE["engine"] = load_default_model()
    return _STATE["engine"]


def _cache():
    if "cache" not in _STATE:
        from generation.ml.token_data import corpus_items, prepare_token_cache

        engine = _engine()
        items, key = corpus_items()
        max_len = engine.model.config.block_size + 1 - engine.tok.PREFIX_LEN
        _STATE["cache"] = prepare_token_cache(engine.tok, items, key, max_len, progress=False)
    return _STATE["cache"]


def eval_windows(split: str, per_piece_limit: int | None = None) -> list[np.ndarray]:
    """Non-overlapping windows of the split: each prefix + body tokens, plus its style."""
    from generation.ml.token_data import WindowSampler

    engine, cache = _engine(), _cache()
    sampler = WindowSampler(engine.tok, cache, split, engine.model.config.block_size,
                            transpose=False)
    rows = []
    last_piece, next_start, taken = -1, -1, 0
    for w in sampler.windows:
        piece, start, length = int(w[7]), int(w[0]), int(w[1])
        if piece != last_piece:
            last_piece, next_start, taken = piece, start, 0
        if start < next_start or (per_piece_limit and taken >= per_piece_limit):
            continue
        rows.append((int(w[2]), sampler.sequence(w, 0)))
        next_start, taken = start + length, taken + 1
    return rows


def _train_sequences(split: str) -> list[np.ndarray]:
    """Whole pieces of a split as prefix + body (the 5-gram's training text)."""
    from generation.ml.token_data import WindowSampler

    engine, cache = _engine(), _cache()
    sampler = WindowSampler(engine.tok, cache, split, engine.model.config.block_size)
    first = {}
    for w in cache.windows[split]:
        first.setdefault(int(w[7]), w)
    out = []
    for row, w in first.items():
        meta = cache.pieces[row]
        body = np.asarray(cache.tokens[meta["start"]: meta["start"] + meta["length"]],
                          dtype=np.int64)
        prefix = sampler.prefix_for(w)
        out.append(np.concatenate([np.asarray(prefix, dtype=np.int64), body]))
    return out


@torch.no_grad()
def _transformer_bits(seqs: list[np.ndarray], skip: int, batch: int = 16
                      ) -> list[tuple[float, int]]:
    """(bits, scored tokens) per sequence; sequences of equal length go through together."""
    engine = _engine()
    model = engine.model
    out: list[tuple[float, int] | None] = [None] * len(seqs)
    by_len: dict[int, list[int]] = {}
    for i, s in enumerate(seqs):
        by_len.setdefault(len(s), []).append(i)
    for idxs in by_len.values():
        for j in range(0, len(idxs), batch):
            chunk = idxs[j:j + batch]
            idx = torch.tensor(np.stack([seqs[i] for i in chunk]), device=engine.device)
            logits, _ = model(idx[:, :-1])
            logp = torch.log_softmax(logits.float(), -1)
            lp = logp.gather(-1, idx[:, 1:, None])[..., 0][:, skip:]
            for k, i in enumerate(chunk):
                out[i] = (float(-lp[k].sum()) / np.log(2), int(lp.shape[1]))
    return out


def nll_section(quick: bool = False) -> dict:
    from generation.ml.ngram import KneserNey

    engine = _engine()
    tok = engine.tok
    t0 = time.time()
    train = _train_sequences("train")
    valid = [s for _, s in eval_windows("valid", per_piece_limit=2)]
    kn = KneserNey(order=5, vocab_size=tok.vocab_size).fit(train)
    kn.tune(valid[:300] if quick else valid)
    test = eval_windows("test", per_piece_limit=1 if quick else None)
    if quick:
        rng = np.random.default_rng(0)
        by_style: dict[int, list] = {}
        for st, s in test:
            by_style.setdefault(st, []).append(s)
        test = [(st, s) for st, ss in by_style.items()
                for s in [ss[i] for i in rng.permutation(len(ss))[:12]]]
    skip = tok.PREFIX_LEN - 1  # score the body only: the prefix is given
    d_a, d_b = tok.ranges["Dur"]
    styles: dict[str, dict] = {}
    tf = _transformer_bits([s for _, s in test], skip)
    for (st, s), (tf_bits, n) in zip(test, tf, strict=True):
        kn_bits, n2 = kn.nll_bits([s], skip=skip)
        assert n == n2
        notes = int(((s >= d_a) & (s < d_b)).sum())
        name = tok.config.styles[st]
        acc = styles.setdefault(name, {"tokens": 0, "notes": 0, "windows": 0,
                                       "tf_bits": 0.0, "kn_bits": 0.0})
        acc["tokens"] += n
        acc["notes"] += notes
        acc["windows"] += 1
        acc["tf_bits"] += tf_bits
        acc["kn_bits"] += kn_bits
    out = {}
    for name, a in sorted(styles.items()):
        tf_tok, kn_tok = a["tf_bits"] / a["tokens"], a["kn_bits"] / a["tokens"]
        out[name] = {"windows": a["windows"], "tokens": a["tokens"], "notes": a["notes"],
                     "transformer_bits_per_token": round(tf_tok, 4),
                     "ngram_bits_per_token": round(kn_tok, 4),
                     "transformer_bits_per_note": round(a["tf_bits"] / max(1, a["notes"]), 3),
                     "ngram_bits_per_note": round(a["kn_bits"] / max(1, a["notes"]), 3),
                     "reduction_pct": round(100 * (1 - tf_tok / kn_tok), 2)}
    return {"per_style": out, "ngram_discounts": [round(d, 3) for d in kn.discounts],
            "goal": "Transformer NLL >= 25% below the 5-gram in every style",
            "goal_met": all(v["reduction_pct"] >= 25 for v in out.values()),
            "seconds": round(time.time() - t0, 1)}


def _generations(quick: bool, candidates: int | None = None,
                 guidance: float | None = None) -> list[dict]:
    """Generations across styles and attribute settings (made once per process), with the
    engine's default number of reranking candidates and guidance strength unless given."""
    from generation.ml.compose import DEFAULT_CANDIDATES, DEFAULT_GUIDANCE, compose

    candidates = candidates or DEFAULT_CANDIDATES
    guidance = DEFAULT_GUIDANCE if guidance is None else guidance
    key = f"gen-{quick}-{candidates}-{guidance}"
    if key in _STATE:
        return _STATE[key]
    from generation.music.attributes import measure_attributes

    engine = _engine()
    c = engine.tok.config
    settings = list(itertools.product(c.modes, c.density_bands, c.register_bands))
    total = 12 if quick else 216
    per_call = 2 if quick else 4
    bars = 8
    out = []
    rng = np.random.default_rng(7)
    order = list(itertools.product(settings, c.styles))
    rng.shuffle(order)
    combos = itertools.cycle(order)
    i = 0
    while len(out) < total:
        (mode, dens, reg), style = next(combos)
        attrs = {"mode": mode, "density_band": dens, "register_band": reg}
        for g in compose(attrs, style, bars=bars, temperature=1.0, top_p=0.95,
                         seed=1000 + i, variants=per_call, model=engine,
                         candidates=candidates, guidance=guidance):
            out.append({"style": style, "target": attrs, "piece": g.piece,
                        "measured": measure_attributes(g.piece)})
        i += per_call
    _STATE[key] = out[:total]
    return _STATE[key]


def _control(gens: list[dict]) -> dict:
    attrs = ("mode", "density_band", "register_band")
    hits = {a: 0 for a in attrs}
    all_hits = 0
    per_style: dict[str, list[int]] = {}
    for g in gens:
        ok = [g["measured"].get(a) == g["target"][a] for a in attrs]
        for a, k in zip(attrs, ok, strict=True):
            hits[a] += k
        all_hits += all(ok)
        per_style.setdefault(g["style"], []).append(all(ok))
    n = len(gens)
    return {"generations": n, "bars_each": 8,
            "accuracy": {a: round(hits[a] / n, 4) for a in attrs},
            "all_three": round(all_hits / n, 4),
            "all_three_per_style": {s: round(float(np.mean(v)), 4)
                                    for s, v in sorted(per_style.items())},
            "goal_met": all(hits[a] / n >= 0.9 for a in attrs)}


def control_section(quick: bool = False) -> dict:
    """Accuracy of the engine as served (its default guidance strength and reranking
    candidates) and, for comparison, of one guided sample without reranking and of the bare
    model (one sample, no guidance, no reranking): what the control prefix alone does."""
    from generation.ml.compose import DEFAULT_CANDIDATES, DEFAULT_GUIDANCE

    t0 = time.time()
    out = _control(_generations(quick))
    out["candidates"] = DEFAULT_CANDIDATES
    out["guidance"] = DEFAULT_GUIDANCE
    out["goal"] = ">= 90% on mode, density band and register band"
    if DEFAULT_CANDIDATES > 1 and DEFAULT_GUIDANCE:
        out["guided_one_sample"] = _control(_generations(quick, candidates=1))
    if DEFAULT_CANDIDATES > 1 or DEFAULT_GUIDANCE:
        out["bare_model"] = _control(_generations(quick, candidates=1, guidance=0.0))
    out["seconds"] = round(time.time() - t0, 1)
    return out


def overlap_area(a: list[float], b: list[float], bins: int = 20) -> float:
    """Overlapping area of two histograms on shared bins (1 = same distribution)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if not a.size or not b.size:
        return 0.0
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    if hi <= lo:
        return 1.0
    edges = np.linspace(lo, hi, bins + 1)
    pa = np.histogram(a, edges)[0] / a.size
    pb = np.histogram(b, edges)[0] / b.size
    return float(np.minimum(pa, pb).sum())


def _real_excerpts(n_bars: int, limit: int) -> list:
    from generation.music.corpus import load_corpus
    from generation.music.notes import Part, Piece

    data = load_corpus()
    out = []
    per_style = max(1, limit // 5)
    for style in data.manifest.get("styles", []) or sorted({p.style for p in data.pieces}):
        for info in data.select(split="test", style=style)[:per_style]:
            piece = data.piece(info.id)
            end = n_bars * piece.bar_beats
            parts = [Part([n for n in p.notes if n.onset < end], p.program, p.is_drum, p.name)
                     for p in piece.parts]
            out.append(Piece(parts=parts, time_signatures=piece.time_signatures[:1]))
    return out


def muspy_section(quick: bool = False) -> dict:
    from generation.music.attributes import muspy_metrics

    t0 = time.time()
    gens = _generations(quick)
    real = _real_excerpts(8, 50 if quick else 250)
    gen_m = [muspy_metrics(g["piece"]) for g in gens]
    real_m = [muspy_metrics(p) for p in real]
    out = {}
    for m in METRICS:
        a, b = [x[m] for x in gen_m], [x[m] for x in real_m]
        out[m] = {"generated_mean": round(float(np.mean(a)), 4),
                  "real_mean": round(float(np.mean(b)), 4),
                  "overlap_area": round(overlap_area(a, b), 4)}
    return {"generated": len(gen_m), "real_excerpts": len(real_m), "metrics": out,
            "seconds": round(time.time() - t0, 1)}


def validity_section(quick: bool = False) -> dict:
    from generation.music.notes import piece_from_midi, piece_to_midi_bytes

    try:
        from generation.music.validate import validate_midi
    except ImportError:
        validate_midi = None
    gens = _generations(quick)
    valid = 0
    failures = []
    for g in gens:
        try:
            data = piece_to_midi_bytes(g["piece"])
            back = validate_midi(data).piece if validate_midi else piece_from_midi(data)
            ok = back.note_count == g["piece"].note_count and g["piece"].note_count > 0
        except Exception as exc:  # any failure to read back is an invalid file
            ok = False
            failures.append(str(exc)[:120])
        valid += ok
    return {"generations": len(gens), "valid_share": round(valid / max(1, len(gens)), 4),
            "checked_with": "validate_midi" if validate_midi else "pretty_midi",
            "failures": failures[:5]}


def engraving_section(quick: bool = False) -> dict:
    from generation.render.engraving import fit_to_ranges
    from generation.render.engraving_check import add_counts, check_piece

    t0 = time.time()
    out: dict = {}
    samples = {"generated": [fit_to_ranges(g["piece"]) for g in _generations(quick)],
               "corpus": _corpus_pieces(10 if quick else 100)}
    for name, pieces in samples.items():
        total: dict = {"pieces": len(pieces)}
        for piece in pieces:
            add_counts(total, check_piece(piece))
        total["details"] = total.get("details", [])[:5]
        out[name] = total
    out["seconds"] = round(time.time() - t0, 1)
    return out


def _corpus_pieces(limit: int) -> list:
    """Whole held-out corpus pieces, the same number from each style."""
    from generation.music.corpus import load_corpus

    data = load_corpus()
    styles = sorted({p.style for p in data.pieces})
    per_style = max(1, limit // len(styles))
    return [data.piece(info.id) for style in styles
            for info in data.select(split="test", style=style)[:per_style]]


def mood_section(quick: bool = False) -> dict:
    try:
        mod = importlib.import_module("generation.ml.mood_eval")
    except ImportError:
        return {"skipped": "generation.ml.mood_eval is not there yet"}
    return mod.evaluate_mood(REPO_ROOT / "tests" / "data" / "mood_prompts.json")


register_section("nll", nll_section)
register_section("control", control_section)
register_section("muspy", muspy_section)
register_section("validity", validity_section)
register_section("mood", mood_section)


def transfer_section(quick: bool = False) -> dict:
    """CycleGAN figures per pair and direction (``generation.ml.evaluate_transfer``)."""
    try:
        mod = importlib.import_module("generation.ml.evaluate_transfer")
    except ImportError:
        return {"skipped": "generation.ml.evaluate_transfer is not there"}
    try:
        return mod.evaluate_transfer(quick=quick)
    except FileNotFoundError as exc:
        return {"skipped": f"no trained style-transfer models: {exc}"}


register_section("transfer", transfer_section)
register_section("engraving", engraving_section)


def evaluate_models(quick: bool = False, sections: list[str] | None = None,
                    report_path: Path | None = REPORT_PATH,
                    checkpoint: str | Path | None = None) -> dict:
    """Run the sections (all by default) and write the Markdown report. ``checkpoint``
    evaluates another Transformer checkpoint folder than the committed one."""
    torch.set_num_threads(2)
    if checkpoint is not None:
        from generation.ml.compose import load_model

        _STATE.clear()
        _STATE["engine"] = load_model(checkpoint)
    results: dict = {"quick": quick}
    try:
        results["model_version"] = _engine().version
    except FileNotFoundError:
        results["model_version"] = None
    for name in sections or list(SECTIONS):
        try:
            results[name] = SECTIONS[name](quick)
        except Exception as exc:  # one broken section must not hide the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    if report_path:
        write_report(results, report_path)
    return results


def comparison_lines(ctl: dict) -> list[str]:
    """The control section's comparison figures (guided one sample, bare model) as
    Markdown paragraphs; shared by the report and the model card."""
    lines = []
    for key, label in (("guided_one_sample", "Guided, one sample (no reranking)"),
                       ("bare_model", "Bare model (one sample, no guidance, no reranking)")):
        fig = ctl.get(key)
        if fig:
            lines += [f"{label}: " + ", ".join(f"{k} {v:.1%}" for k, v in
                                               fig["accuracy"].items())
                      + f"; all three {fig['all_three']:.1%}.", ""]
    return lines


def _has_tables(section: dict) -> bool:
    return isinstance(section, dict) and ("heldout" in section or "pairs" in section)


def mood_lines(mood: dict) -> list[str]:
    """The mood reader's accuracy per split (and per language) as a Markdown table."""
    splits = [s for s in ("tune", "dev", "dev2", "tune+dev", "tuning", "heldout")
              if isinstance(mood.get(s), dict) and mood[s].get("n")]
    if "heldout" not in splits:
        return []
    lines = ["## Mood reader (`tests/data/mood_prompts.json`)", "",
             "| split | prompts | mode | tempo band | by language (n: mode / tempo) |",
             "|---|---|---|---|---|"]
    for s in splits:
        v = mood[s]
        langs = "; ".join(f"{lang} {x['n']}: {x['mode']:.2f} / {x['tempo_band']:.2f}"
                          for lang, x in v.get("by_language", {}).items())
        lines.append(f"| {s} | {v['n']} | {v['mode']:.3f} | {v['tempo_band']:.3f} | {langs} |")
    held = mood["heldout"]
    lines += ["", f"Goal on the held-out half (mode >= 0.90, tempo band >= 0.85) met: "
              f"{held['mode'] >= 0.90 and held['tempo_band'] >= 0.85}. Only the tuning "
              "splits are ever tuned on (`python -m generation.ml.mood_eval --tuning`).", ""]
    return lines


def transfer_lines(transfer: dict) -> list[str]:
    """The CycleGAN figures per pair and direction as Markdown tables."""
    pairs = transfer.get("pairs") if isinstance(transfer, dict) else None
    if not pairs:
        return []
    lines = ["## Style transfer (CycleGAN pairs, test split)", "",
             f"{transfer.get('phrases_per_direction')} phrases a direction; judge: the style "
             f"classifier (test balanced accuracy {transfer.get('classifier')}). Definitions in "
             "`generation/ml/evaluate_transfer.py`.", "",
             "| pair | S_tot | fewest onsets kept | fewest melody onsets kept | goal met |",
             "|---|---|---|---|---|"]
    for name, e in pairs.items():
        lines.append(f"| {name} | {e['S_tot']:.3f} | {e['onsets_kept_min']:.3f} | "
                     f"{e.get('melody_onsets_kept_min', float('nan')):.3f} | {e['goal_met']} |")
    figures = ("acc_real", "p_source_transfer", "p_source_cycle", "strength", "onsets_kept",
               "melody_onsets_kept", "pitch_class_similarity", "p_source_decoder_only",
               "onsets_kept_decoder_only", "playable")
    lines += ["", "| direction | " + " | ".join(figures) + " |",
              "|---|" + "---|" * len(figures)]
    for e in pairs.values():
        for d, x in e.items():
            if "->" in d:
                lines.append(f"| {d} | " + " | ".join(str(x.get(f, "")) for f in figures)
                             + " |")
    lines += ["", "Goal: S_tot >= 0.75 with at least half of the source's onsets kept in "
              "each direction.", ""]
    return lines


def engraving_lines(eng: dict) -> list[str]:
    """The engraving check's counts as a table, one row per sample."""
    from generation.render.engraving_check import COUNTS

    if "generated" not in eng:
        return []
    lines = ["## Engraving check", "",
             "| sample | pieces | bars | " + " | ".join(COUNTS) + " | problems |",
             "|---" * (len(COUNTS) + 4) + "|"]
    for name in ("generated", "corpus"):
        row = eng.get(name, {})
        lines.append(f"| {name} | {row.get('pieces', 0)} | {row.get('bars', 0)} | "
                     + " | ".join(str(row.get(k, 0)) for k in COUNTS)
                     + f" | {row.get('problems', 0)} |")
    return lines + [""]


def write_report(results: dict, path: Path) -> None:
    lines = ["# Model evaluation", "",
             f"Model version: `{results.get('model_version')}`"
             f"{' (quick run)' if results.get('quick') else ''}. "
             "Made by `python manage.py evaluate_models"
             f"{' --quick' if results.get('quick') else ''}`.", ""]
    nll = results.get("nll", {})
    if "per_style" in nll:
        lines += ["## Held-out NLL (test split)", "",
                  "| style | windows | Transformer bits/token | 5-gram bits/token | "
                  "Transformer bits/note | 5-gram bits/note | reduction |",
                  "|---|---|---|---|---|---|---|"]
        for s, v in nll["per_style"].items():
            lines.append(f"| {s} | {v['windows']} | {v['transformer_bits_per_token']} | "
                         f"{v['ngram_bits_per_token']} | {v['transformer_bits_per_note']} | "
                         f"{v['ngram_bits_per_note']} | {v['reduction_pct']}% |")
        lines += ["", f"Goal (>= 25% lower in every style) met: {nll['goal_met']}.", ""]
    ctl = results.get("control", {})
    if "accuracy" in ctl:
        lines += ["## Attribute control", "",
                  f"{ctl['generations']} generations of {ctl['bars_each']} bars, re-measured.",
                  "", "| attribute | accuracy |", "|---|---|"]
        lines += [f"| {a} | {v:.1%} |" for a, v in ctl["accuracy"].items()]
        lines += [f"| all three | {ctl['all_three']:.1%} |", "",
                  f"As served: guidance strength {ctl.get('guidance', 0)} (a feedback bias that "
                  "holds the running density and mean pitch inside the requested bands, "
                  "`generation/ml/guidance.py`) and "
                  f"{ctl.get('candidates', 1)} sampled candidates per variant, the "
                  "one whose measured attributes match best kept. All three per style: "
                  + ", ".join(f"{k} {v:.1%}" for k, v in ctl["all_three_per_style"].items())
                  + ".", "", f"Goal (>= 90% each) met: {ctl['goal_met']}.", ""]
        lines += comparison_lines(ctl)
    mus = results.get("muspy", {})
    if "metrics" in mus:
        lines += ["## MusPy-style metrics, generated vs real", "",
                  "| metric | generated mean | real mean | overlapping area |",
                  "|---|---|---|---|"]
        lines += [f"| {m} | {v['generated_mean']} | {v['real_mean']} | {v['overlap_area']} |"
                  for m, v in mus["metrics"].items()]
        lines.append("")
    val = results.get("validity", {})
    if "valid_share" in val:
        lines += ["## Valid MIDI", "",
                  f"{val['valid_share']:.1%} of {val['generations']} generations "
                  f"(checked with {val['checked_with']}).", ""]
    lines += mood_lines(results.get("mood", {})) + transfer_lines(results.get("transfer", {}))
    lines += engraving_lines(results.get("engraving", {}))
    for name in results:
        if name in ("quick", "model_version", "nll", "control", "muspy", "validity"):
            continue
        if name == "engraving" and "generated" in results[name]:
            continue
        if name in ("mood", "transfer") and _has_tables(results[name]):
            continue
        lines += [f"## {name}", "", "```json", json.dumps(results[name], indent=1,
                                                           default=str)[:4000], "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
