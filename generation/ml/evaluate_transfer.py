"""Evaluation of the style-transfer CycleGANs on test-split phrases.

``evaluate_transfer(quick)`` is what ``manage.py evaluate_models`` calls. For every trained pair
and both directions source -> target it reports, on test phrases of the source style:

- ``acc_real``: the style classifier's accuracy on the real source phrases (pair decision:
  the larger of the two styles' probabilities), and ``acc_real_5way`` over all styles.
- Brunner et al.'s (2018) transfer strength. P_src(x) is the share of phrases the classifier
  assigns to the source style (pair decision, as the paper's binary classifier did), for the
  original phrases, their transfers and their cycles (transferred back):
      S_{src->tgt} = ((P_src(orig) - P_src(transfer)) + (P_src(cycle) - P_src(transfer))) / 2
  and per pair S_tot = (S_{A->B} + S_{B->A}) / 2. S is 1 when every original is recognised,
  every transfer is taken for the target and every cycle for the source again; a generator
  that copies its input scores 0.
- ``target_hit_5way``: share of transfers whose most likely style of all five is the target.
- Content retention: ``onsets_kept``, the share of source onsets (pitch, step) that the
  transfer also starts within one step; ``pitch_class_similarity``, the mean cosine of the
  source's and the transfer's 12-bin pitch-class histograms (onset counts).
- ``melody_onsets_kept``: the same share for the source's top line only (at each step the
  highest sounding pitch, counted where it starts there). For a one-voice source it equals
  ``onsets_kept``; for a four-voice chorale going into a one-voice folk style it asks whether
  the tune survived, where ``onsets_kept`` can reach only about a quarter by construction.
  It is reported beside ``onsets_kept``, which stays the figure the goal is judged on.
- Baseline ``p_source_decoder_only`` / ``onsets_kept_decoder_only``: the source phrase copied
  through the target's decoder alone (its voice cap and pitch range), no generator; the
  difference to the transfer is what the GAN itself does.
- ``playable``: share of the decoded output's notes that are playable (in the target's pitch
  range, at least two steps long unless the phrase end cuts them, within the voice count): the decoder guarantees it, so this
  is a check; ``playable_raw`` is the same share for the generator's output cut at a bare 0.5
  (what the decoder has to repair).

Transfers are judged as they would be played: decoded by ``transfer.decode_phrase`` with the
source phrase's key (as ``transfer_style`` uses the source piece's key). Cycles
are G_back(G(x)) on the generator's continuous output, decoded the same way.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from generation.ml.transfer import (
    CYCLEGAN_DIR,
    DEFAULT_FACTS,
    MIN_STEPS,
    decode_phrase,
    rolls_scale,
    top_line,
    trained_pairs,
)

QUICK_PHRASES = 48
FULL_PHRASES = 240


def onsets_kept(source: np.ndarray, output: np.ndarray, tolerance: int = 1) -> float:
    """Share of the source's onsets (N, 2, P, T rolls, channel 1) that the output also has at
    the same pitch within ``tolerance`` steps."""
    src = source[:, 1] > 0.5
    out = output[:, 1] > 0.5
    near = out.copy()
    for d in range(1, tolerance + 1):
        near[..., d:] |= out[..., :-d]
        near[..., :-d] |= out[..., d:]
    total = src.sum()
    return float((src & near).sum() / total) if total else 1.0


def pitch_class_similarity(source: np.ndarray, output: np.ndarray) -> float:
    """Mean over phrases of the cosine between 12-bin onset pitch-class histograms."""
    sims = []
    for s, o in zip(source, output, strict=True):
        hs, ho = _pc_hist(s), _pc_hist(o)
        if hs.sum() == 0 or ho.sum() == 0:
            sims.append(0.0 if hs.sum() != ho.sum() else 1.0)
            continue
        sims.append(float(hs @ ho / (np.linalg.norm(hs) * np.linalg.norm(ho))))
    return float(np.mean(sims)) if sims else 0.0


def _pc_hist(roll: np.ndarray) -> np.ndarray:
    from generation.music.pianoroll import PITCH_LOW

    counts = (roll[1] > 0.5).sum(axis=1).astype(np.float64)  # per pitch row
    hist = np.zeros(12)
    for i, c in enumerate(counts):
        hist[(i + PITCH_LOW) % 12] += c
    return hist


def playable_share(rolls: np.ndarray, facts: dict, threshold: float = 0.5) -> float:
    """Share of notes (read by the codec at ``threshold``) that are in the pitch range, last
    MIN_STEPS steps or more, and start where no more than ``max_voices`` notes sound."""
    from generation.music.pianoroll import STEPS_PER_QUARTER, roll_to_notes

    facts = {**DEFAULT_FACTS, **facts}
    good = total = 0
    for roll in rolls:
        notes = roll_to_notes(roll, threshold=threshold)
        sounding = (roll[0] > threshold).sum(axis=0)
        for n in notes:
            total += 1
            step = int(round(n.onset * STEPS_PER_QUARTER))
            end = step + int(round(n.duration * STEPS_PER_QUARTER))
            ok = (facts["pitch_low"] <= n.pitch <= facts["pitch_high"]
                  and (n.duration * STEPS_PER_QUARTER >= MIN_STEPS - 1e-9
                       or end >= roll.shape[-1])  # cut by the phrase end, joined later
                  and sounding[min(step, len(sounding) - 1)] <= facts["max_voices"])
            good += int(ok)
    return float(good / total) if total else 1.0


@torch.no_grad()
def _run(gen, rolls: np.ndarray, batch: int = 64) -> np.ndarray:
    x = torch.from_numpy(np.asarray(rolls, dtype=np.float32))
    return torch.cat([gen(x[i:i + batch]) for i in range(0, len(x), batch)]).numpy()


def _decode_all(probs: np.ndarray, facts: dict, sources: np.ndarray,
                scales: list[np.ndarray], keep_top_line: bool = True) -> np.ndarray:
    return np.stack([decode_phrase(p, facts, 64, source=s, scale=k, keep_top_line=keep_top_line)
                     for p, s, k in zip(probs, sources, scales, strict=True)])


def evaluate_direction(model, classifier, source_style: str, target_style: str,
                       rolls: np.ndarray) -> dict:
    """All figures for one direction on the given source phrases (binary rolls)."""
    gen = model.generator_for(source_style, target_style)
    back = model.generator_for(target_style, source_style)
    facts_t = model.config.style_facts.get(target_style, DEFAULT_FACTS)
    facts_s = model.config.style_facts.get(source_style, DEFAULT_FACTS)
    scales = [rolls_scale(r[None]) for r in rolls]  # each phrase keeps its own key
    raw = _run(gen, rolls)
    transfer = _decode_all(raw, facts_t, rolls, scales)
    # As in the paper (and in training), the cycle goes back from the generator's own output
    # cut at 0.5, not from the decoded transfer: a four-voice chorale decoded into a one-voice
    # folk tune could not carry the other voices back.
    # The originals stand in as ``source`` only for their key and density: the cycle must not
    # be steered towards them, so the top-line preference is off.
    cycle = _decode_all(_run(back, (raw > 0.5).astype(np.float32)), facts_s, rolls, scales,
                        keep_top_line=False)

    styles = classifier.config.styles
    i_s, i_t = styles.index(source_style), styles.index(target_style)

    def p_source(x: np.ndarray) -> tuple[float, np.ndarray]:
        probs = classifier.probabilities(x)
        return float((probs[:, i_s] > probs[:, i_t]).mean()), probs

    # Baseline: the source copied through the target's decoder alone (voice cap, range),
    # no generator: what the GAN adds is the difference to this.
    copied = _decode_all(rolls, facts_t, rolls, scales)
    p_copied, _ = p_source(copied)
    p_orig, probs_orig = p_source(rolls)
    p_transfer, probs_transfer = p_source(transfer)
    # A transfer that fell silent is no transfer, whatever the classifier makes of silence:
    # it counts as still in the source style.
    empty = transfer[:, 1].reshape(len(transfer), -1).sum(axis=1) == 0
    p_transfer = float(((probs_transfer[:, i_s] > probs_transfer[:, i_t]) | empty).mean())
    hit = (probs_transfer.argmax(1) == i_t) & ~empty
    p_cycle, _ = p_source(cycle)
    strength = ((p_orig - p_transfer) + (p_cycle - p_transfer)) / 2
    return {
        "phrases": int(len(rolls)),
        "acc_real": round(p_orig, 4),
        "acc_real_5way": round(float((probs_orig.argmax(1) == i_s).mean()), 4),
        "p_source_transfer": round(p_transfer, 4),
        "p_source_cycle": round(p_cycle, 4),
        "strength": round(strength, 4),
        "target_hit_5way": round(float(hit.mean()), 4),
        "empty_transfers": round(float(empty.mean()), 4),
        "p_source_decoder_only": round(p_copied, 4),
        "onsets_kept_decoder_only": round(onsets_kept(rolls, copied), 4),
        "onsets_kept": round(onsets_kept(rolls, transfer), 4),
        "melody_onsets_kept": round(onsets_kept(top_line(rolls), transfer), 4),
        "pitch_class_similarity": round(pitch_class_similarity(rolls, transfer), 4),
        "playable": round(playable_share(transfer, facts_t), 4),
        "playable_raw": round(playable_share(raw, facts_t), 4),
        "onsets_per_phrase_source": round(float(rolls[:, 1].sum() / len(rolls)), 2),
        "onsets_per_phrase_transfer": round(float(transfer[:, 1].sum() / len(rolls)), 2),
    }


def evaluate_transfer(quick: bool = True, root: Path = CYCLEGAN_DIR,
                      write: bool | None = None) -> dict:
    """Figures per trained pair and direction (see the module docstring). ``quick`` uses
    QUICK_PHRASES test phrases per direction, else FULL_PHRASES. The full run writes
    ``EVALUATION.json`` beside the checkpoints (``write`` overrides)."""
    from generation.ml.cyclegan import CycleGANModel
    from generation.ml.style_classifier import StyleClassifier
    from generation.ml.train_cyclegan import phrase_bank

    t0 = time.time()
    classifier = StyleClassifier.load()
    n = QUICK_PHRASES if quick else FULL_PHRASES
    report: dict = {"quick": quick, "phrases_per_direction": n, "pairs": {},
                    "classifier": classifier.meta.get("metrics", {}).get("test_balanced_acc")}
    for a, b in trained_pairs(root):
        model = CycleGANModel.load(Path(root) / f"{a}__{b}").eval()
        entry: dict = {"steps": model.step,
                       "train_minutes": round(model.meta.get("train_seconds", 0) / 60, 1)}
        for src, tgt in ((a, b), (b, a)):
            rolls = phrase_bank(src, "test", n, seed=1).astype(np.float32)
            entry[f"{src}->{tgt}"] = evaluate_direction(model, classifier, src, tgt, rolls)
        d1, d2 = entry[f"{a}->{b}"], entry[f"{b}->{a}"]
        entry["S_tot"] = round((d1["strength"] + d2["strength"]) / 2, 4)
        entry["onsets_kept_min"] = min(d1["onsets_kept"], d2["onsets_kept"])
        entry["melody_onsets_kept_min"] = min(d1["melody_onsets_kept"],
                                              d2["melody_onsets_kept"])
        entry["goal_met"] = bool(entry["S_tot"] >= 0.75 and entry["onsets_kept_min"] >= 0.5)
        report["pairs"][f"{a}__{b}"] = entry
    report["seconds"] = round(time.time() - t0, 1)
    if write if write is not None else not quick:
        (Path(root) / "EVALUATION.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
