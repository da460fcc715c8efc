"""Write the v2 model card (``MODEL_CARD.md``) and loss plot from the checkpoint's own files:
``config.json`` (model and training state), ``loss.csv``, ``EVALUATION.json``
(``python -m generation.ml.evaluate_v2``) and ``LISTENING.json`` (blind tests scored with
``manage.py listening_test score``). ``python -m generation.ml.grid_card [DIR]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from generation.ml.compose import model_version
from generation.ml.compose_v2 import DEFAULT_CANDIDATES, DEFAULT_CHECKPOINT, DEFAULT_GROUPS


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _table(header: list[str], rows: list[list]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def write_card(directory: Path = DEFAULT_CHECKPOINT, notes: str = "") -> Path:
    from generation.ml.train_transformer import plot_loss

    meta = _load(directory / "config.json")
    m, tr = meta["model"], meta["training"]
    ev = _load(directory / "EVALUATION.json")
    lis = _load(directory / "LISTENING.json")
    if (directory / "loss.csv").exists():
        plot_loss(directory / "loss.csv", directory / "loss.png", "v2 grid Transformer")
    runs = tr.get("runs", [])
    lines = [
        "# Model card: v2, the voice-grid Transformer", "",
        f"- **Version** (sha256 of `model.safetensors`, first 12 hex): "
        f"`{model_version(directory / 'model.safetensors')}`",
        f"- **Architecture**: decoder-only Transformer (`generation/ml/transformer.py`), "
        f"{m['n_layer']} layers, width {m['n_embd']}, {m['n_head']} heads, rotary positions "
        f"plus a learned slot embedding (voice x frame of the bar), context {m['block_size']} "
        f"tokens, vocabulary {m['vocab_size']}, dropout {m['dropout']}.",
        "- **Representation** (`generation/music/grid.py`): every style has a fixed number of "
        "voices (chorale and Renaissance 4, the folk styles 1); every frame of the style's grid "
        "(a sixteenth; an eighth for Renaissance) holds one token per voice: a new pitch, Hold "
        "or Rest. Prefix: style, meter (only meters the style uses), mode, density band. Each "
        "bar opens with a countdown token (bars left), so the model knows where the piece ends. "
        "Pieces are moved to the tonic C before training; the key of a result is chosen after "
        "sampling to set the register band. After BachBot (Liang 2016) and DeepBach's data "
        "layout; folk-rnn's whole-tune context for the one-voice styles.",
        f"- **Serving**: `generation.ml.compose_v2`; {DEFAULT_CANDIDATES} candidates per "
        f"variant sampled side by side in {DEFAULT_GROUPS} groups. After every bar each group "
        "goes on from its bar with the fewest faults by a musical critic "
        "(`generation/music/critic.py`: parallels, unprepared strong-beat dissonances, "
        "voices dropping out, notes outside the key, hammered notes, wild leaps) and the "
        "requested density band; likelihood takes no part in that choice (it made the music "
        "blander). Of the groups' pieces the best by mean log-likelihood, critic and the "
        "requested mode and density is kept. Sampling is plain (temperature 1, top-p 0.95); "
        "no attribute is pushed into the logits. Two structural aids: a one-line tune first "
        "draws the repeat pattern of a training tune's opening (`generation/ml/form.py`, "
        "form.json: which bar comes back where, never the notes) and those bars are copied; "
        "chorales keep the voicing rules of `generation/music/voicing.py` note by note "
        "(ranges, spacing, no crossing, unison, clash, parallels frame to frame or beat to "
        "beat, leaps of a tritone, a seventh or past an octave, no voice silent under the "
        "soprano; each broken by Bach in under 1% of cases) and the bar critic charges what "
        "Bach writes far less often than we did: empty fifths, clusters and two-note chords "
        "on the beat, 6/4 chords, a lower voice rocking between two pitches, a chord seventh "
        "that does not step down, a long top note ending on anything but a plain triad or "
        "reached without a root moving a fifth, v-i at a minor phrase end. Infilling and "
        "harmonization: "
        "`generation/ml/infill.py`, judged bar by bar the same way.",
        "", "## Data", "",
        "The project's corpus `generation/data/corpus_v1`, train split only, pieces in a meter "
        "their style uses and without real meter changes (pickups re-aligned); Renaissance "
        "pieces in five or more parts give up to three four-voice subsets. No transposition "
        "augmentation (the point is one key).", "",
        "## Training", "",
        f"- steps {tr['step']:,}, tokens seen (targets) {tr['tokens']:,}, wall clock "
        f"{tr['seconds'] / 60:.0f} min on 2 shared CPU cores (no GPU was lent)",
        f"- best validation loss {tr['best_valid']:.4f} nats/token at step {tr['best_step']:,}"
        " (the committed weights)",
        "- runs: " + "; ".join(f"steps {r['from_step']}-{r.get('to_step', '?')} "
                                f"({r['minutes']:.0f} min budget, lr {r['lr']}, batch "
                                f"{r['batch']})" for r in runs),
        "- AdamW (0.9/0.95, weight decay 0.1), warm-up then cosine decay over the time budget, "
        "gradient clipping 1.0; curve in `loss.png`, numbers in `loss.csv`.", "",
    ]
    if ev:
        nll = ev["nll"]
        rows = [[s, v["bits_per_note"], nll.get("v1", {}).get(s, {}).get("bits_per_note", "-"),
                 nll.get("reduction_pct", {}).get(s, "-")] for s, v in nll["v2"].items()]
        lines += ["## Evaluation (`python -m generation.ml.evaluate_v2`, `EVALUATION.json`)", "",
                  "Held-out (test split) negative log-likelihood per note (v2 pays log2 12 "
                  "bits per piece for its key). Caveat: each model is scored on its own "
                  "encoding of the test split: v2 on whole pieces in the meters it writes (four "
                  "voices of a motet in more parts), v1 on its event windows of every test "
                  "piece, so the note sets differ somewhat:", ""]
        lines += _table(["style", "v2 bits/note", "v1 bits/note", "reduction %"], rows) + [""]
        sv, bare = ev["served"], ev["bare"]
        lines += [f"As served, {sv['n']} compositions of {ev['bars']} bars over every style x "
                  f"mode x density x register setting: meters outside the style "
                  f"{sv['meter_outside_style']}, wrong bar counts {sv['wrong_bar_count']}, "
                  f"valid MIDI {sv['valid_midi']:.1%}; control (bands within the style, "
                  f"`attributes_schema.json` by_style): " + ", ".join(
                      f"{k} {v:.1%}" for k, v in sv["control"].items()) + ".", ""]
        if sv.get("control_corpus_wide"):
            lines += ["The same compositions by the corpus-wide bands (by which all 340 "
                      "chorales are dense and low, so a sparse or high chorale is no chorale): "
                      + ", ".join(f"{k} {v:.1%}" for k, v in sv["control_corpus_wide"].items())
                      + ".", ""]
        if sv.get("control_by_style"):
            lines += ["Control by style (bands within the style): " + "; ".join(
                f"{st} " + ", ".join(f"{k.split('_')[0]} {v:.0%}" for k, v in c.items())
                for st, c in sv["control_by_style"].items()) + ".", ""]
        lines += ["Bare model (one sample, no reranking): " + ", ".join(
                      f"{k} {v:.1%}" for k, v in bare["control"].items()) + ".", "",
                  f"Two-sample test (cross-validated classifier accuracy, 0.5 = cannot tell), "
                  f"{ev['bars']}-bar pieces against real {ev['bars']}-bar openings: "
                  f"overall {ev['two_sample']['overall']}; " + ", ".join(
                      f"{k} {v}" for k, v in ev["two_sample"]["per_style"].items()) + ".", ""]
        op = ev.get("two_sample_openings")
        if op:
            lines += [f"The same, like for like: the first {ev['bars']} bars of pieces as long "
                      f"as the real excerpts' pieces (median bars " + ", ".join(
                          f"{k} {v}" for k, v in ev["openings"]["median_piece_bars"].items())
                      + f"): overall {op['overall']}; " + ", ".join(
                          f"{k} {v}" for k, v in op["per_style"].items()) + "; final cadence "
                      f"at bar {ev['bars']} {ev['openings']['critic']['final_cadence']:.0%} "
                      f"(real {ev['critic']['real']['final_cadence']:.0%}, whole "
                      f"{ev['bars']}-bar pieces {ev['critic']['generated']['final_cadence']:.0%}).",
                      ""]
        lines += [
                  f"Copy check (top line shares 8 interval+duration steps with a training "
                  f"Copy check (top line shares 8 interval+duration steps with a training "
                  f"piece): generated {ev['copy']['generated']}, real held-out "
                  f"{ev['copy']['real_heldout']}.", ""]
        v1 = ev.get("v1")
        if v1:
            lines += ["v1 as served, the same settings and seeds, in the same run: meters outside "
                      f"the style {v1['meter_outside_style']}, wrong bar counts "
                      f"{v1['wrong_bar_count']}, valid MIDI {v1['valid_midi']:.1%}; control: "
                      + ", ".join(f"{k} {v:.1%}" for k, v in v1["control"].items())
                      + (" (corpus-wide bands, which v1 was trained on: " + ", ".join(
                          f"{k} {v:.1%}" for k, v in v1["control_corpus_wide"].items()) + ")"
                         if v1.get("control_corpus_wide") else "")
                      + f"; two-sample overall {v1['two_sample']['overall']}, "
                      + ", ".join(f"{k} {v}" for k, v in v1["two_sample"]["per_style"].items())
                      + f"; copy {v1['copy']}.", ""]
        cont = ev.get("continuation")
        if cont:
            lines += [f"Continuations of held-out openings: {cont['exact_bars']} of "
                      f"{cont['continuations']} add exactly the bars asked; the seed kept "
                      f"note for note in {cont['seed_kept']}.", ""]
        har = ev.get("harmonization")
        if har:
            lines += [f"Harmonization of {har['chorales']} held-out chorale sopranos, faults per "
                      "10 notes (same critic): " + ", ".join(
                          f"{k} v2 {har['v2'][k]} / Bach {har['bach'][k]}"
                          for k in ("parallels", "strong_dissonances", "crossings")) + ".", ""]
            ph = har.get("phrases")
            if ph:
                lines += ["Phrase ends and chords in the same chorales, v2 / Bach: " + ", ".join(
                    f"{k.replace('_', ' ')} {ph['v2'][k]} / {ph['bach'][k]}" for k in ph["v2"])
                    + ".", ""]
        sp = ev["speed_16_bars"]
        lines += [f"16 bars as served, medians in one run: v1 {sp['v1']['median_s']} s, "
                  f"v2 {sp['v2']['median_s']} s (ratio {sp['ratio_v2_over_v1']}).", ""]
        crit = ev["critic"]
        c1 = (v1 or {}).get("critic", {})
        lines += _table(["critic (faults per 10 notes; shares)", "v2", "v1", "real"],
                        [[k, crit["generated"][k], c1.get(k, "-"), crit["real"][k]]
                         for k in crit["generated"]])
        lines += [""]
    if lis:
        lines += ["## Blind listening tests", ""]
        for name, r in lis.items():
            lines += [f"- **{name}**: {r['items']} items, judge told them apart "
                      f"{r['accuracy']:.0%} of the time; musicality generated "
                      f"{r['musicality_generated']}, real {r['musicality_real']}; by style "
                      + ", ".join(f"{s} {v['generated']}/{v['real']}"
                                  for s, v in r["by_style"].items())
                      + (f". {r['note']}" if r.get("note") else "")]
        lines += [""]
    notes = notes or (directory / "JUDGEMENT.md").read_text(encoding="utf-8") \
        if (directory / "JUDGEMENT.md").exists() else notes
    if notes:
        lines += [notes, ""]
    lines += ["## Rebuild / resume", "", "```",
              "python -m generation.ml.train_grid --minutes 110 --width 160 --layers 5 "
              "--heads 5 --block 512 --batch 16 --lr 2e-3            # from scratch",
              "python -m generation.ml.train_grid --minutes 120 --resume   # from these weights",
              "cp var/grid_v2_run/best/* generation/checkpoints/grid_v2/ && "
              "cp var/grid_v2_run/loss.csv generation/checkpoints/grid_v2/",
              "python -m generation.ml.evaluate_v2 && python -m generation.ml.grid_card", "```", ""]
    path = directory / "MODEL_CARD.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


if __name__ == "__main__":
    write_card(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CHECKPOINT)
