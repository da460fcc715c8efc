"""Training loop of the continuation Transformer: a plain loop, no trainer framework.

``train(TrainConfig(...))`` tokenizes the corpus once into ``var/cache`` (see
``generation.ml.token_data``), then trains on random windows with transposition, bounded by
steps and/or minutes. It writes into ``out`` (default ``generation/checkpoints/transformer``):

- ``model.safetensors`` (weights), ``config.json`` (model arguments + training state, no
  optimizer), ``tokenizer.json``: written whenever the validation loss improves (best so far),
  atomically, so a reader never sees half a checkpoint;
- ``loss.csv`` (step, seconds, tokens, train loss, valid loss, learning rate) and ``loss.png``;
- ``var/cache/transformer-resume-<hash of out>/``: the latest weights + optimizer state, for
  ``--resume`` (outside the checkpoint folder, so it never lands in git).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from generation.ml.token_data import WindowSampler, corpus_items, prepare_token_cache
from generation.ml.transformer import MusicTransformer, TransformerConfig, lr_at
from generation.music.tokenizer import Tokenizer, TokenizerConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "generation" / "checkpoints" / "transformer"


def default_model_config(vocab_size: int) -> TransformerConfig:
    # Sized for ~80 minutes on two CPU cores shared with other jobs (measured ~1,400 tokens/s
    # under that load): 0.85 M parameters see ~6 M tokens; a wider model would see too few.
    # No dropout: with transposition the run never revisits a window enough to overfit.
    return TransformerConfig(vocab_size=vocab_size, block_size=256, n_layer=4, n_head=4,
                             n_embd=128, dropout=0.0)


def tiny_model_config(vocab_size: int) -> TransformerConfig:
    return TransformerConfig(vocab_size=vocab_size, block_size=64, n_layer=2, n_head=2,
                             n_embd=32, dropout=0.0)


@dataclass
class TrainConfig:
    out: str = str(DEFAULT_OUT)
    tiny: bool = False  # a tiny model and a few steps (tests, smoke runs)
    max_steps: int = 100_000
    minutes: float | None = None  # wall-clock budget; the lr schedule follows it
    batch_size: int = 24
    lr: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup: int = 50
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 100  # steps between validation estimates
    eval_batches: int = 8
    seed: int = 1337
    device: str = "auto"
    resume: bool = False
    threads: int = 2
    model: dict = field(default_factory=dict)  # overrides of TransformerConfig fields


def write_checkpoint(directory: Path, model: MusicTransformer, state: dict,
                     sidecars: dict) -> None:
    """Weights (safetensors, the tied head left out) + config.json (model arguments and
    training state) + ``sidecars`` ({file name: writer(path)}), swapped in atomically so a
    reader never sees half a checkpoint. Shared by the v1 and v2 training loops."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".tmp-{os.getpid()}"
    tmp.mkdir(exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
               if k != "lm_head.weight"}  # tied to wte.weight
    save_file(weights, str(tmp / "model.safetensors"))
    (tmp / "config.json").write_text(json.dumps(
        {"model": model.config.to_dict(), "training": state}, indent=1), encoding="utf-8")
    for name, write in sidecars.items():
        write(tmp / name)
    for name in ("model.safetensors", "config.json", *sidecars):
        os.replace(tmp / name, directory / name)
    tmp.rmdir()


def save_checkpoint(directory: Path, model: MusicTransformer, tok: Tokenizer,
                    state: dict) -> None:
    """Weights + config.json + tokenizer.json (``write_checkpoint``)."""
    write_checkpoint(directory, model, state, {"tokenizer.json": tok.save})


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu"):
    """(model in eval mode, tokenizer, config.json dict) from a checkpoint folder."""
    directory = Path(directory)
    meta = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    config = TransformerConfig(**meta["model"])
    model = MusicTransformer(config)
    weights = load_file(str(directory / "model.safetensors"))
    weights["lm_head.weight"] = weights["wte.weight"]
    model.load_state_dict(weights)
    model.to(device).eval()
    tok = Tokenizer(TokenizerConfig.load(directory / "tokenizer.json"))
    return model, tok, meta


def plot_loss(csv_path: Path, png_path: Path, title: str = "Continuation Transformer") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [float(r["train_loss"]) for r in rows], label="train")
    valid = [(int(r["step"]), float(r["valid_loss"])) for r in rows if r["valid_loss"]]
    if valid:
        ax.plot(*zip(*valid, strict=True), label="valid", marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


@torch.no_grad()
def estimate_loss(model, sampler: WindowSampler, batches: int, batch_size: int, device,
                  seed: int = 0) -> float:
    model.eval()
    rng = np.random.default_rng(seed)  # the same validation windows every time
    losses = []
    for _ in range(batches):
        x, y = sampler.batch(rng, batch_size)
        _, loss = model(x.to(device), y.to(device))
        losses.append(float(loss))
    model.train()
    return float(np.mean(losses))


def train(cfg: TrainConfig, items=None, corpus_key: str | None = None,
          progress: bool = True) -> dict:
    """Train and return a summary. ``items``: (id, style, split, Piece) to use instead of the
    committed corpus (tests)."""
    from generation.ml.device import select_device

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = select_device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer()
    mcfg = tiny_model_config(tok.vocab_size) if cfg.tiny else default_model_config(
        tok.vocab_size)
    for k, v in cfg.model.items():
        setattr(mcfg, k, v)
    if items is None:
        items, corpus_key = corpus_items()
    cache = prepare_token_cache(tok, items, corpus_key or "custom",
                                mcfg.block_size + 1 - tok.PREFIX_LEN, progress=progress)
    train_s = WindowSampler(tok, cache, "train", mcfg.block_size)
    valid_split = "valid" if len(cache.windows.get("valid", [])) else "train"
    valid_s = WindowSampler(tok, cache, valid_split, mcfg.block_size, transpose=False)

    model = MusicTransformer(mcfg).to(device)
    optimizer = model.configure_optimizer(cfg.lr, cfg.weight_decay)
    step, tokens_seen, elapsed0, best = 0, 0, 0.0, math.inf
    # resume state (weights + optimizer) lives outside the committed checkpoint folder
    last_dir = resume_dir(out)
    csv_path = out / "loss.csv"
    if cfg.resume and (last_dir / "config.json").exists():
        model, _, meta = load_checkpoint(last_dir, device)
        model.train()
        optimizer = model.configure_optimizer(cfg.lr, cfg.weight_decay)
        if (last_dir / "optimizer.pt").exists():
            optimizer.load_state_dict(torch.load(last_dir / "optimizer.pt",
                                                 map_location=device))
        st = meta["training"]
        step, tokens_seen, elapsed0 = st["step"], st["tokens"], st["seconds"]
        best = st.get("best_valid_loss", math.inf)
    elif csv_path.exists():
        csv_path.unlink()
    if not csv_path.exists():
        csv_path.write_text("step,seconds,tokens,train_loss,valid_loss,lr\n", encoding="utf-8")

    rng = np.random.default_rng(cfg.seed + step)
    budget = cfg.minutes * 60 if cfg.minutes else None
    t0 = time.time()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.max_steps, initial=step, desc="train", unit="step",
                   mininterval=10)
    model.train()
    running = None
    start_step = step

    def state(valid_loss: float | None) -> dict:
        return {"step": step, "tokens": tokens_seen, "seconds": round(elapsed, 1),
                "valid_loss": valid_loss, "best_valid_loss": best,
                "train_loss": running, "params": model.num_params(),
                "batch_size": cfg.batch_size, "lr": cfg.lr, "device": str(device),
                "train_windows": int(len(train_s.windows)), "corpus": corpus_key,
                "config": asdict(cfg)}

    elapsed = elapsed0
    while step < cfg.max_steps:
        elapsed = elapsed0 + time.time() - t0
        if budget is not None and elapsed >= budget:
            break
        progress_frac = max(step / cfg.max_steps, elapsed / budget if budget else 0.0)
        lr = lr_at(step, progress_frac, cfg.lr, cfg.warmup, cfg.min_lr_ratio)
        for g in optimizer.param_groups:
            g["lr"] = lr
        x, y = train_s.batch(rng, cfg.batch_size)
        _, loss = model(x.to(device), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        tokens_seen += int((y >= 0).sum())
        loss_value = loss.item()
        running = loss_value if running is None else 0.95 * running + 0.05 * loss_value
        valid_loss = None
        final = step >= cfg.max_steps or (budget is not None and
                                          elapsed0 + time.time() - t0 >= budget)
        if step % cfg.eval_every == 0 or final:
            valid_loss = estimate_loss(model, valid_s, cfg.eval_batches, cfg.batch_size,
                                       device)
            elapsed = elapsed0 + time.time() - t0
            if valid_loss < best:
                best = valid_loss
                save_checkpoint(out, model, tok, state(valid_loss))
            save_checkpoint(last_dir, model, tok, state(valid_loss))
            torch.save(optimizer.state_dict(), last_dir / "optimizer.pt")
        if step % 10 == 0 or valid_loss is not None:
            with csv_path.open("a", encoding="utf-8") as f:
                f.write(f"{step},{elapsed:.1f},{tokens_seen},{running:.4f},"
                        f"{'' if valid_loss is None else f'{valid_loss:.4f}'},{lr:.6f}\n")
        if valid_loss is not None:
            plot_loss(csv_path, out / "loss.png")
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}", valid=f"{best:.3f}")
    if bar is not None:
        bar.close()
    if not (out / "model.safetensors").exists():  # no evaluation ran (zero steps)
        save_checkpoint(out, model, tok, state(None))
    plot_loss(csv_path, out / "loss.png")
    return {"steps": step, "new_steps": step - start_step, "tokens": tokens_seen,
            "seconds": round(elapsed0 + time.time() - t0, 1), "best_valid_loss": best,
            "out": str(out), "params": model.num_params()}


def resume_dir(out: str | Path) -> Path:
    """Where the latest weights and optimizer state of a run into ``out`` are kept."""
    digest = hashlib.sha256(str(Path(out).resolve()).encode()).hexdigest()[:10]
    return REPO_ROOT / "var" / "cache" / f"transformer-resume-{digest}"
