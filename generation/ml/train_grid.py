"""Training loop of the v2 (grid) model: a plain loop, resumable across sessions.

``python -m generation.ml.train_grid --minutes 120 [--resume]`` encodes the corpus once
(a few seconds, ``grid_data``), then trains on random windows. It writes into ``--out``
(default ``var/grid_v2_run``, outside git):

- ``best/``: the best-validation checkpoint (``model.safetensors``, ``config.json`` with the
  model arguments and the training state, ``codec.json``), swapped in atomically;
- ``last/``: the latest weights and ``optimizer.pt`` for ``--resume``;
- ``loss.csv`` (step, seconds, tokens, train loss, valid loss, lr).

``--resume`` continues from ``last/`` or, when there is none, from the committed checkpoint
(``--init``, default ``generation/checkpoints/grid_v2``) with a fresh optimizer; the step
count, token count and wall time carry on from the checkpoint's training state. Commit the
best checkpoint with ``manage.py`` ... or copy ``best/`` into ``generation/checkpoints/grid_v2``
and regenerate its model card (``python -m generation.ml.grid_card``).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from generation.ml.grid_data import N_SLOTS, WindowSampler, build_sequences, voice_ranges
from generation.ml.train_transformer import write_checkpoint
from generation.ml.transformer import MusicTransformer, TransformerConfig, lr_at
from generation.music.grid import GridCodec, GridConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "var" / "grid_v2_run"
COMMITTED = REPO_ROOT / "generation" / "checkpoints" / "grid_v2"


def model_config(vocab_size: int, width: int = 192, layers: int = 6, heads: int = 6,
                 block: int = 1024, dropout: float = 0.1) -> TransformerConfig:
    return TransformerConfig(vocab_size=vocab_size, block_size=block, n_layer=layers,
                             n_head=heads, n_embd=width, dropout=dropout, n_slots=N_SLOTS)


def save_checkpoint(directory: Path, model: MusicTransformer, codec: GridCodec,
                    state: dict) -> None:
    """Weights + config.json + codec.json, swapped in atomically (``write_checkpoint``)."""
    write_checkpoint(directory, model, state, {"codec.json": codec.config.save})


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu"
                    ) -> tuple[MusicTransformer, GridCodec, dict]:
    """(model in eval mode, codec, config.json dict) from a checkpoint folder."""
    directory = Path(directory)
    meta = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    model = MusicTransformer(TransformerConfig(**meta["model"]))
    weights = load_file(str(directory / "model.safetensors"))
    weights["lm_head.weight"] = weights["wte.weight"]
    model.load_state_dict(weights)
    model.to(device).eval()
    return model, GridCodec(GridConfig.load(directory / "codec.json")), meta


@torch.no_grad()
def estimate_loss(model, sampler: WindowSampler, batches: int, batch_size: int) -> float:
    """Mean loss over fixed validation windows (the sampler is re-seeded each time)."""
    model.eval()
    sampler.rng = np.random.default_rng(0)
    losses = []
    for _ in range(batches):
        x, s, y = (torch.from_numpy(a) for a in sampler.batch(batch_size))
        _, loss = model(x, y, slots=s)
        losses.append(float(loss))
    model.train()
    return float(np.mean(losses))


def train(out: Path = DEFAULT_OUT, minutes: float = 60.0, max_steps: int = 10**9,
          batch_size: int = 12, lr: float = 1.5e-3, warmup: int = 100,
          weight_decay: float = 0.1, eval_every: int = 100, eval_batches: int = 6,
          seed: int = 1337, resume: bool = False, init: Path | None = COMMITTED,
          threads: int = 2, model_args: dict | None = None, limit: int | None = None,
          reset_best: bool = False, log=print) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    codec = GridCodec()
    train_seqs = build_sequences("train", codec, limit=limit)
    valid_seqs = build_sequences("valid", codec, limit=limit)
    codec.config.ranges = voice_ranges(train_seqs, codec)
    state = {"step": 0, "tokens": 0, "seconds": 0.0, "best_valid": float("inf"),
             "best_step": 0, "runs": []}
    last = out / "last"
    model = None
    if resume and (last / "model.safetensors").exists():
        model, _, meta = load_checkpoint(last)
        state.update(meta["training"])
    elif resume and init is not None and (Path(init) / "model.safetensors").exists():
        model, _, meta = load_checkpoint(init)
        state.update(meta["training"])
        if (Path(init) / "loss.csv").exists() and not (out / "loss.csv").exists():
            (out / "loss.csv").write_bytes((Path(init) / "loss.csv").read_bytes())
    if reset_best:  # the data changed (e.g. relabelled): older valid figures do not compare
        state["best_valid"], state["best_step"] = float("inf"), state["step"]
    if model is None:
        model = MusicTransformer(model_config(codec.vocab_size, **(model_args or {})))
    model.train()
    block = model.config.block_size
    opt = model.configure_optimizer(lr, weight_decay)
    if resume and (last / "optimizer.pt").exists():
        saved = torch.load(last / "optimizer.pt", weights_only=True)
        if saved.get("step") == state["step"]:
            opt.load_state_dict(saved["optimizer"])
            log(f"resumed optimizer at step {state['step']}")
        else:
            log("optimizer state is from another step: Adam restarts")
    sampler = WindowSampler(train_seqs, codec, block, seed=seed + state["step"])
    valid = WindowSampler(valid_seqs, codec, block, seed=0)
    log(f"{len(train_seqs)} train / {len(valid_seqs)} valid sequences, "
        f"{model.num_params():,} parameters, block {block}, from step {state['step']}")
    csv_path = out / "loss.csv"
    new_csv = not csv_path.exists() or not resume
    f = csv_path.open("w" if new_csv else "a", newline="", encoding="utf-8")
    writer = csv.writer(f)
    if new_csv:
        writer.writerow(["step", "seconds", "tokens", "train_loss", "valid_loss", "lr"])
    t0, base_seconds, step0, tokens0 = time.time(), state["seconds"], state["step"], state["tokens"]
    budget = minutes * 60
    run = {"from_step": step0, "minutes": minutes, "lr": lr, "batch": batch_size}
    running = None
    while state["step"] < max_steps:
        elapsed = time.time() - t0
        if elapsed >= budget:
            break
        it = state["step"] - step0
        cur_lr = lr_at(it, elapsed / budget, lr, warmup)
        for g in opt.param_groups:
            g["lr"] = cur_lr
        x, s, y = (torch.from_numpy(a) for a in sampler.batch(batch_size))
        _, loss = model(x, y, slots=s)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["tokens"] += int((y >= 0).sum())
        lv = float(loss.detach())
        running = lv if running is None else 0.95 * running + 0.05 * lv
        if (state["step"] % eval_every == 0 or time.time() - t0 >= budget
                or state["step"] >= max_steps):
            v = estimate_loss(model, valid, eval_batches, batch_size)
            state["seconds"] = base_seconds + time.time() - t0
            writer.writerow([state["step"], round(state["seconds"], 1), state["tokens"],
                             round(running, 4), round(v, 4), f"{cur_lr:.6g}"])
            f.flush()
            log(f"step {state['step']} train {running:.4f} valid {v:.4f} "
                f"lr {cur_lr:.2e} {(state['tokens'] - tokens0) / max(1, time.time() - t0):.0f} tok/s")
            if v < state["best_valid"]:
                state["best_valid"], state["best_step"] = v, state["step"]
                save_checkpoint(out / "best", model, codec, state)
            save_checkpoint(last, model, codec, state)
            torch.save({"step": state["step"], "optimizer": opt.state_dict()},
                       last / "optimizer.pt")
    state["seconds"] = base_seconds + time.time() - t0
    run["to_step"] = state["step"]
    state["runs"] = [*state.get("runs", []), run]
    save_checkpoint(last, model, codec, state)
    torch.save({"step": state["step"], "optimizer": opt.state_dict()}, last / "optimizer.pt")
    f.close()
    return state


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--minutes", type=float, default=60.0)
    p.add_argument("--max-steps", type=int, default=10**9)
    p.add_argument("--batch", type=int, default=12)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--width", type=int, default=192)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--block", type=int, default=1024)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--warmup", type=int, default=100, help="steps (a resumed run needs few)")
    p.add_argument("--reset-best", action="store_true",
                   help="forget the best valid loss so far (after the data's labels change)")
    a = p.parse_args(argv)
    train(Path(a.out), a.minutes, a.max_steps, a.batch, a.lr, warmup=a.warmup, resume=a.resume,
          threads=a.threads, eval_every=a.eval_every, reset_best=a.reset_best,
          model_args={"width": a.width, "layers": a.layers, "heads": a.heads,
                      "block": a.block})


if __name__ == "__main__":
    main()
