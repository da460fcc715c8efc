"""Training of the style-transfer CycleGANs and of the style classifier that judges them.

Plain loops in plain functions (no trainer framework), called by the management commands
``train_cyclegan`` and ``train_style_classifier``:

- ``phrase_bank(style, split)``: the corpus's phrases of one style as uint8 piano rolls
  (N, 2, 84, 64), cut by the piano-roll codec and cached under ``var/cache/cyclegan/``
  (keyed by the corpus manifest, so a rebuilt corpus is re-cut).
- ``train_pair(a, b, minutes=...)``: trains one CycleGAN for a wall-clock budget, logs the
  losses to ``loss.csv`` / ``loss.png`` and writes a resumable checkpoint to
  ``generation/checkpoints/cyclegan/<a>__<b>/``.
- ``train_style_classifier(minutes=...)``: trains the judge on the training split only.

Pairs form a star around ``HUB`` so every style reaches every other (``transfer.py`` routes
through the hub where no direct pair exists).
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from generation.ml.cyclegan import CycleGANConfig, CycleGANModel
from generation.ml.style_classifier import (
    CLASSIFIER_DIR,
    StyleClassifierConfig,
    balanced_accuracy,
    confusion,
    train_classifier,
    transpose_rolls,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CYCLEGAN_DIR = REPO_ROOT / "generation" / "checkpoints" / "cyclegan"
CACHE_DIR = REPO_ROOT / "var" / "cache" / "cyclegan"
HUB = "german_folk"
MIN_ONSETS = 4  # a phrase with fewer note onsets is mostly rest: no style to learn from it
LOSS_FIELDS = ["step", "seconds", "G_A", "G_B", "cycle_A", "cycle_B", "G_A_all", "G_B_all",
               "D_A", "D_B", "D_A_all", "D_B_all", "cycle"]


def pair_dir(style_a: str, style_b: str, root: Path = CYCLEGAN_DIR) -> Path:
    return Path(root) / f"{style_a}__{style_b}"


def default_pairs(styles: list[str], hub: str = HUB) -> list[tuple[str, str]]:
    """The star of pairs around ``hub``: (hub, other) for every other style."""
    return [(hub, s) for s in styles if s != hub]


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
def _corpus_key(data) -> str:
    manifest = json.dumps(getattr(data, "manifest", {}), sort_keys=True, default=str)
    return hashlib.sha256(manifest.encode()).hexdigest()[:10]


def phrase_bank(style: str, split: str, max_phrases: int | None = None, seed: int = 0,
                data=None, cache: bool = True) -> np.ndarray:
    """All phrases of ``style`` in ``split`` as uint8 rolls (N, 2, 84, 64), phrases with fewer
    than MIN_ONSETS onsets left out; a fixed random sample of ``max_phrases`` when given."""
    from generation.music.corpus import load_corpus
    from generation.music.pianoroll import piece_to_phrases

    data = data if data is not None else load_corpus()
    path = CACHE_DIR / f"{_corpus_key(data)}_{split}_{style}.npy"
    if cache and path.exists():
        rolls = np.load(path)
    else:
        chunks = []
        for _info, piece in data.iter(split=split, style=style):
            try:
                ps = piece_to_phrases(piece)
            except Exception:  # a piece the codec cannot cut (e.g. no notes) teaches nothing
                continue
            r = np.asarray(ps.rolls) > 0.5
            if len(r):
                chunks.append(r.astype(np.uint8))
        rolls = np.concatenate(chunks) if chunks else np.zeros((0, 2, 84, 64), np.uint8)
        rolls = rolls[rolls[:, 1].reshape(len(rolls), -1).sum(axis=1) >= MIN_ONSETS]
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, rolls)
    if max_phrases is not None and len(rolls) > max_phrases:
        idx = np.sort(np.random.default_rng(seed).choice(len(rolls), max_phrases, replace=False))
        rolls = rolls[idx]
    return rolls


def style_facts(rolls: np.ndarray) -> dict:
    """What the decoder needs to keep a transfer idiomatic and playable in a style: the pitch
    range (1st..99th percentile of onsets), the most simultaneous notes (95th percentile of
    steps that sound), and onsets per step."""
    if len(rolls) == 0:
        return {"pitch_low": 48, "pitch_high": 84, "max_voices": 4, "onsets_per_step": 0.2}
    from generation.music.pianoroll import PITCH_LOW

    onsets = rolls[:, 1].astype(bool)
    pitch_idx = np.nonzero(onsets)[1]
    sounding = rolls[:, 0].sum(axis=1)  # (N, 64) notes sounding per step
    voices = sounding[sounding > 0]
    return {
        "pitch_low": int(PITCH_LOW + np.percentile(pitch_idx, 1)),
        "pitch_high": int(PITCH_LOW + np.percentile(pitch_idx, 99)),
        "max_voices": int(max(1, np.percentile(voices, 95))),
        "onsets_per_step": round(float(onsets.sum() / (len(rolls) * rolls.shape[-1])), 4),
    }


def _batch(bank: np.ndarray, n: int, rng: np.random.Generator, transpose: int) -> torch.Tensor:
    x = bank[rng.integers(0, len(bank), n)].astype(np.float32)
    if transpose:
        x = transpose_rolls(x, rng.integers(-transpose, transpose + 1, n))
    return torch.from_numpy(x)


# ---------------------------------------------------------------------------------------------
# CycleGAN
# ---------------------------------------------------------------------------------------------
TINY = dict(ngf=4, n_blocks=1, ndf=4, batch_size=2, pool_size=4)
# loss weights read at every step: a resumed run may change them (the networks stay as built)
RESUME_OVERRIDES = {"lambda_cycle", "lambda_identity", "gamma_mixed", "sigma_d"}


def train_pair(style_a: str, style_b: str, *, minutes: float = 12.0,
               max_steps: int | None = None, tiny: bool = False, resume: bool = False,
               device: str = "auto", out_dir: Path | None = None,
               banks: tuple[np.ndarray, np.ndarray] | None = None,
               config_overrides: dict | None = None, seed: int = 0, transpose: int = 2,
               checkpoint_every_s: float = 120.0, progress: bool = True,
               log: Callable[[str], None] = print) -> dict:
    """Train the CycleGAN ``style_a <-> style_b`` for ``minutes`` of wall clock (or
    ``max_steps``), saving to ``out_dir`` every ``checkpoint_every_s`` and at the end.

    Returns {"steps", "seconds", "out_dir", "last": last logged losses}.
    """
    from tqdm import tqdm

    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    out_dir = Path(out_dir) if out_dir is not None else pair_dir(style_a, style_b)
    if banks is None:
        banks = (phrase_bank(style_a, "train"), phrase_bank(style_b, "train"))
    bank_a, bank_b = banks
    if len(bank_a) == 0 or len(bank_b) == 0:
        raise ValueError(f"no training phrases for {style_a} or {style_b}")

    overrides = dict(config_overrides or {})
    if resume and (out_dir / "config.json").exists():
        model = CycleGANModel.load(out_dir, device=device)
        if not _load_optimizer_state(model, out_dir):
            log(f"no optimizer state saved at step {model.step}: Adam restarts")
        fixed = sorted(set(overrides) - RESUME_OVERRIDES)
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot change on --resume (only "
                             f"{', '.join(sorted(RESUME_OVERRIDES))})")
        for k, v in overrides.items():
            setattr(model.config, k, type(getattr(model.config, k))(v))
        runs = list(model.meta.get("runs") or [
            {"steps": model.step, "seconds": model.meta.get("train_seconds", 0.0),
             "lambda_cycle": model.meta["config"]["lambda_cycle"]}])
        log(f"resumed {out_dir} at step {model.step}"
            + (f" with {overrides}" if overrides else ""))
    else:
        cfg = CycleGANConfig(style_a=style_a, style_b=style_b, seed=seed,
                             **(TINY if tiny else {}), **overrides)
        cfg.style_facts = {style_a: style_facts(bank_a), style_b: style_facts(bank_b)}
        model = CycleGANModel(cfg, device=device)
        runs = []
        if (out_dir / "loss.csv").exists():
            (out_dir / "loss.csv").unlink()  # a fresh run starts a fresh log
    model.train()
    bs = model.config.batch_size
    rng = np.random.default_rng(seed + model.step)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "loss.csv"
    new_file = not csv_path.exists()
    prior_seconds = _last_seconds(csv_path)

    runs.append({"steps": model.step, "seconds": 0.0,
                 "lambda_cycle": model.config.lambda_cycle, "resume": bool(runs)})
    this_run = runs[-1]
    step0 = model.step

    start = last_save = time.monotonic()
    budget_s = minutes * 60.0
    bar = tqdm(total=max_steps if max_steps else int(budget_s), disable=not progress,
               unit="step" if max_steps else "s", desc=f"{style_a}<->{style_b}")
    acc: dict[str, list[float]] = {}
    last: dict[str, float] = {}
    steps_this_run = 0
    with csv_path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOSS_FIELDS, extrasaction="ignore")
        if new_file:
            writer.writeheader()
        while True:
            elapsed = time.monotonic() - start
            if max_steps is not None and steps_this_run >= max_steps:
                break
            if max_steps is None and elapsed >= budget_s:
                break
            real_a = _batch(bank_a, bs, rng, transpose)
            real_b = _batch(bank_b, bs, rng, transpose)
            model.set_input(real_a, real_b)
            losses = model.optimize_parameters()
            steps_this_run += 1
            for k, v in losses.items():
                acc.setdefault(k, []).append(v)
            if model.step % 10 == 0 or (max_steps and steps_this_run == max_steps):
                last = {k: round(float(np.mean(v)), 5) for k, v in acc.items()}
                acc = {}
                writer.writerow({"step": model.step,
                                 "seconds": round(prior_seconds + elapsed, 1), **last})
                f.flush()
                bar.set_postfix(cyc=last.get("cycle"), G=last.get("G_A"), D=last.get("D_A"))
            if max_steps:
                bar.update(1)
            else:
                bar.n = min(int(elapsed), int(budget_s))
                bar.refresh()
            if time.monotonic() - last_save > checkpoint_every_s:
                this_run.update(steps=model.step - step0, seconds=round(elapsed, 1))
                _save(model, out_dir, prior_seconds + elapsed, runs)
                last_save = time.monotonic()
    bar.close()
    seconds = time.monotonic() - start
    this_run.update(steps=model.step - step0, seconds=round(seconds, 1))
    _save(model, out_dir, prior_seconds + seconds, runs)
    plot_losses(csv_path, out_dir / "loss.png", f"CycleGAN {style_a} <-> {style_b}")
    return {"steps": model.step, "steps_this_run": steps_this_run,
            "seconds": round(seconds, 1), "out_dir": str(out_dir), "last": last}


def _optimizer_path(out_dir: Path) -> Path:
    # Adam's moments double the size of a checkpoint and are only needed to resume, so for
    # the committed checkpoints they live in the build cache, not in git (a resume without
    # them restarts Adam); elsewhere they sit beside the weights.
    out_dir = Path(out_dir).resolve()
    if out_dir.parent == CYCLEGAN_DIR.resolve():
        return CACHE_DIR / "optimizer" / f"{out_dir.name}.safetensors"
    return out_dir / "optimizer.safetensors"


def _save(model: CycleGANModel, out_dir: Path, train_seconds: float,
          runs: list[dict]) -> None:
    from safetensors.torch import save_file

    model.save(out_dir, extra={"train_seconds": round(train_seconds, 1), "runs": runs})
    opt_path = _optimizer_path(out_dir)
    opt_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = model.optimizer_tensors()
    tensors[_OPT_STEP_KEY] = torch.tensor(model.step, dtype=torch.int64)  # whose moments
    save_file(tensors, str(opt_path))


_OPT_STEP_KEY = "meta.step"


def _load_optimizer_state(model: CycleGANModel, out_dir: Path) -> bool:
    """Load Adam's state saved with this very checkpoint (same step count); True if loaded.
    A state file of another checkpoint (the weights were swapped since) is ignored."""
    from safetensors.torch import load_file

    path = _optimizer_path(out_dir)
    if not path.exists():
        return False
    tensors = load_file(str(path))
    step = tensors.pop(_OPT_STEP_KEY, None)
    if step is None or int(step) != model.step:
        # moments of another checkpoint (the weights were replaced since): Adam restarts
        return False
    model.load_optimizer_tensors(tensors)
    return True


def _last_seconds(csv_path: Path) -> float:
    if not csv_path.exists():
        return 0.0
    rows = list(csv.DictReader(csv_path.open()))
    return float(rows[-1]["seconds"]) if rows else 0.0


def plot_losses(csv_path: Path, png_path: Path, title: str) -> Path:
    """Plot generator, cycle and discriminator losses against steps (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(Path(csv_path).open()))
    groups = [["G_A", "G_B", "D_A", "D_B", "G_A_all", "D_A_all"], ["cycle_A", "cycle_B"],
              ["train_loss", "valid_balanced_acc"]]
    present = [[k for k in g if rows and all(r.get(k) not in (None, "") for r in rows)]
               for g in groups]
    present = [g for g in present if g] or [[]]
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 3.5), squeeze=False)
    steps = [int(r["step"]) for r in rows]
    for ax, keys in zip(axes[0], present, strict=True):
        for k in keys:
            ax.plot(steps, [float(r[k]) for r in rows], label=k, linewidth=1)
        ax.set_xlabel("step")
        if keys:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
    return Path(png_path)


# ---------------------------------------------------------------------------------------------
# Style classifier
# ---------------------------------------------------------------------------------------------
def train_style_classifier(*, minutes: float = 5.0, max_train_per_style: int = 6000,
                           out_dir: Path = CLASSIFIER_DIR, styles: list[str] | None = None,
                           seed: int = 0, width: int | None = None,
                           log: Callable[[str], None] = print) -> dict:
    """Train the judge on the training split, select on valid, report on test; writes
    ``model.safetensors``, ``config.json`` (with the accuracies), ``loss.csv``, ``loss.png``."""
    from generation.music.corpus import STYLES

    styles = list(styles or STYLES)
    train = {s: phrase_bank(s, "train", max_train_per_style, seed) for s in styles}
    valid = {s: phrase_bank(s, "valid", 300, seed) for s in styles}  # checked every 50 steps
    test = {s: phrase_bank(s, "test", 1500, seed) for s in styles}
    log("phrases: " + ", ".join(f"{s} {len(train[s])}/{len(valid[s])}/{len(test[s])}"
                                for s in styles))
    as_float = lambda d: {k: v.astype(np.float32) for k, v in d.items()}  # noqa: E731
    train_f = as_float(train)
    config = StyleClassifierConfig(styles=styles)
    if width is not None:
        config.width = width
    model, rows = train_classifier(train_f, as_float(valid), config, minutes=minutes,
                                   seed=seed, log=lambda r: log(json.dumps(r)))
    test_f = as_float(test)
    result = {
        "valid_balanced_acc": round(balanced_accuracy(model, as_float(valid)), 4),
        "test_balanced_acc": round(balanced_accuracy(model, test_f), 4),
        "test_confusion": confusion(model, test_f),
        "phrases": {s: {"train": len(train[s]), "valid": len(valid[s]), "test": len(test[s])}
                    for s in styles},
        "minutes": minutes,
        "seed": seed,
        "steps": rows[-1]["step"] if rows else 0,
        "best_step": max(rows, key=lambda r: r["valid_balanced_acc"])["step"] if rows else 0,
    }
    out_dir = Path(out_dir)
    model.save(out_dir, extra={"metrics": result})
    with (out_dir / "loss.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["step", "seconds", "train_loss",
                                          "valid_balanced_acc"])
        w.writeheader()
        w.writerows(rows)
    plot_losses(out_dir / "loss.csv", out_dir / "loss.png", "style classifier")
    write_classifier_card(out_dir)
    return result


# ---------------------------------------------------------------------------------------------
# Model cards
# ---------------------------------------------------------------------------------------------
def write_pair_card(directory: Path, evaluation: dict | None = None) -> Path:
    """MODEL_CARD.md of one pair from its config.json and (when given) its entry of
    ``evaluate_transfer``'s report."""
    directory = Path(directory)
    meta = json.loads((directory / "config.json").read_text())
    c = meta["config"]
    a, b = c["style_a"], c["style_b"]
    lines = [
        f"# CycleGAN {a} <-> {b}",
        "",
        "Symbolic style transfer after Brunner et al. (2018), \"Symbolic Music Genre Transfer "
        "with CycleGAN\": piano-roll phrases (2 x 84 pitches x 64 sixteenths: sounding and "
        "onset channels), ResNet generators, PatchGAN discriminators, least-squares GAN loss, "
        "L1 cycle loss, Brunner's extra discriminators on mixed A+B data, Gaussian noise on "
        "discriminator inputs. Deviations, chosen for CPU training: small networks; the "
        "generator's logits start from its input (it learns edits); discriminators and the "
        "cycle see the fake cut at 0.5 with a straight-through gradient (no hidden faint "
        "copies).",
        "",
        "Decoding (`transfer.decode_phrase`): a note starts where onset and sounding agree "
        "above a threshold (0.5, lowered to 0.2 at most to keep half the source's onsets and "
        "to reach the target style's mean density), holds while it "
        "sounds, lasts at least two sixteenths, respects the target style's voice count and "
        "pitch range (folded by octaves), and new pitch classes outside the source's key "
        "need a much stronger vote.",
        "",
        f"- G_A: {a} -> {b} (weights hash `{meta['generator_hashes']['G_A']}`); "
        f"G_B: {b} -> {a} (`{meta['generator_hashes']['G_B']}`)",
        f"- Trained: {meta['step']} steps of batch {c['batch_size']} a side, "
        f"{meta.get('train_seconds', 0) / 60:.1f} minutes on 1 CPU thread (shared machine)",
        f"- Data: training split of `generation/data/corpus_v1` ({a} and {b} phrases, "
        "transposed by up to +-2 semitones); never the valid/test split",
        f"- Config: ngf {c['ngf']}, {c['n_blocks']} residual blocks, ndf {c['ndf']}, "
        f"lambda_cycle {c['lambda_cycle']}, mixed discriminators "
        f"{c['use_mixed_discriminators']} (gamma {c['gamma_mixed']}), sigma_d {c['sigma_d']}, "
        f"lr {c['lr']}, pool {c['pool_size']}",
        "- Decoder facts per style (from the training phrases): "
        + "; ".join(f"{s}: pitches {f['pitch_low']}-{f['pitch_high']}, "
                    f"{f['max_voices']} voice(s)" for s, f in c["style_facts"].items()),
        *([f"- Checkpoint choice: {meta['selection']}"] if meta.get("selection") else []),
        "",
        "Rebuild: " + rebuild_commands(meta) + " "
        "(add `--resume` to continue); evaluate: `python manage.py shell -c \"from "
        "generation.ml.evaluate_transfer import evaluate_transfer; "
        "print(evaluate_transfer(quick=False))\"`.",
        "",
    ]
    if evaluation:
        lines += ["## Evaluation (test split, style classifier in ../../style_classifier)", "",
                  f"S_tot = **{evaluation['S_tot']:.3f}** (goal 0.75); fewest source onsets "
                  f"kept in one direction = **{evaluation['onsets_kept_min']:.3f}** "
                  f"(goal 0.5); goal met: **{evaluation['goal_met']}**", "",
                  "| figure | " + " | ".join(k for k in evaluation if "->" in k) + " |",
                  "| --- | " + " | ".join("---" for k in evaluation if "->" in k) + " |"]
        dirs = [k for k in evaluation if "->" in k]
        for fig in evaluation[dirs[0]]:
            lines.append(f"| {fig} | " + " | ".join(str(evaluation[d][fig]) for d in dirs)
                         + " |")
        lines += ["", "Definitions: `generation/ml/evaluate_transfer.py`. `*_decoder_only` is "
                  "the source copied through the target's decoder (voice cap, range) with no "
                  "generator: the GAN's own contribution is the difference.", ""]
    lines += ["## Limits", "",
              "- A few CPU minutes of training: transfers are sketches of the target idiom, "
              "not idiomatic arrangements.",
              "- One merged part in, one part out: voices, instruments and velocities of the "
              "input are not kept; out-of-range notes are folded by octaves.",
              "- Poly -> mono transfers keep one voice (the target's idiom), so they cannot "
              "keep half of a four-voice source's onsets; the decoder favours the source's top "
              "line (`transfer.TOP_LINE_WEIGHT`), and `melody_onsets_kept` measures how much "
              "of that line survives.", ""]
    path = directory / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    return path


def rebuild_commands(meta: dict) -> str:
    """The ``train_cyclegan`` command(s) that rebuild a checkpoint from its config.json: one
    per recorded run (a resumed run names ``--resume`` and its cycle weight), each with its
    step count where the run recorded it (a wall-clock budget gives other step counts on
    another machine), else with its minutes."""
    c = meta["config"]
    runs = meta.get("runs") or [{"seconds": meta.get("train_seconds", 0),
                                 "lambda_cycle": c["lambda_cycle"]}]
    default_lambda = CycleGANConfig().lambda_cycle
    cmds = []
    for i, run in enumerate(runs):
        lam = float(run.get("lambda_cycle", c["lambda_cycle"]))
        budget = (f" --steps {int(run['steps'])}" if run.get("steps")
                  else f" --minutes {max(1, round(float(run.get('seconds', 0)) / 60))}")
        cmds.append(f"`python manage.py train_cyclegan --pair {c['style_a']}:{c['style_b']}"
                    + (" --resume" if i else "") + budget
                    + (f" --lambda-cycle {lam:g}" if i or lam != default_lambda else "") + "`")
    return ", then ".join(cmds)


def write_classifier_card(directory: Path = CLASSIFIER_DIR) -> Path:
    """MODEL_CARD.md of the style classifier from its config.json."""
    directory = Path(directory)
    meta = json.loads((directory / "config.json").read_text())
    c, m = meta["config"], meta["metrics"]
    styles = c["styles"]
    lines = [
        "# Style classifier (judge of style transfer)",
        "",
        "A small CNN over piano-roll phrases (2 x 84 x 64: sounding and onset channels): "
        f"conv 13x5 ({c['width']} ch) -> pool -> conv 3x3 ({2 * c['width']}) -> pool -> "
        f"conv 3x3 ({4 * c['width']}) -> mean+max pooling -> linear over {len(styles)} styles. "
        f"Trained with random transposition (+-{c['transpose']} semitones) and style-balanced "
        "batches.",
        "",
        f"- Styles: {', '.join(styles)}",
        "- Data: training split of `generation/data/corpus_v1` only (phrases per style: "
        + ", ".join(f"{s} {m['phrases'][s]['train']}" for s in styles)
        + "); weights chosen on the validation split; figures below on the test split.",
        f"- Trained {m['minutes']} minutes on 1 CPU thread (shared machine)"
        + (f": {m['steps']} steps of style-balanced batches, weights of step "
           f"{m['best_step']} kept." if "steps" in m else "."),
        *([f"- Choice among runs: {m['selection']}"] if m.get("selection") else []),
        "- Never used in GAN training: it only judges transfers (`evaluate_transfer`) and "
        "guesses the source style of an upload (mean of per-phrase probabilities).",
        "",
        f"Balanced accuracy: valid **{m['valid_balanced_acc']:.3f}**, test "
        f"**{m['test_balanced_acc']:.3f}**.",
        "",
        "Test confusion (row: true style, column: predicted; share of the row's phrases):",
        "",
        "| true \\ predicted | " + " | ".join(styles) + " |",
        "| --- | " + " | ".join("---" for _ in styles) + " |",
    ]
    for s, row in m["test_confusion"].items():
        lines.append(f"| {s} | " + " | ".join(f"{row[t]:.3f}" for t in styles) + " |")
    lines += [
        "",
        "Rebuild: `python manage.py train_style_classifier --minutes "
        f"{m['minutes']:g} --width {c['width']} --seed {m.get('seed', 0)}` (training runs for "
        "a time, not a step count, so a rebuild on another machine lands near, not on, "
        "these figures).",
        "",
        "## Limits",
        "",
        "- Phrase-level judge of 4-bar windows; German folk songs are the hardest (often "
        "taken for Chinese or Celtic tunes): the three monophonic styles share range and "
        "texture, and differ mostly in scale and rhythm.",
        "- Texture (number of voices) is a strong cue: chorale and renaissance phrases are "
        "recognised by their polyphony, so any four-voice input tends to read as one of them.",
        "",
    ]
    path = directory / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    return path
