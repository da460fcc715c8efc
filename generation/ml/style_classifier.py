"""A small CNN that names the style of a piano-roll phrase.

It is the judge of style transfer, so it never takes part in GAN training: it is trained on the
training split only (``train_style_classifier``), model-selected on the validation split, and
reported on the test split. It also guesses the source style of a user's upload: the mean of
its per-phrase probabilities over the whole piece (``guess_style``).

Input (N, 2, 84, 64) rolls (sounding, onset) in [0, 1]; output logits over ``styles``.
Training transposes each phrase by a random few semitones so the judge listens to intervals,
rhythm and texture more than to the absolute key a collection happens to be notated in.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

REPO_ROOT = Path(__file__).resolve().parents[2]
CLASSIFIER_DIR = REPO_ROOT / "generation" / "checkpoints" / "style_classifier"


@dataclass
class StyleClassifierConfig:
    styles: list[str] = field(default_factory=list)  # class order of the logits
    in_channels: int = 2  # sounding, onset
    width: int = 16  # channels of the first conv; doubled twice
    dropout: float = 0.3
    transpose: int = 3  # training-time random transposition, +- semitones


class StyleClassifier(nn.Module):
    def __init__(self, config: StyleClassifierConfig):
        super().__init__()
        self.config = c = config
        w = c.width

        def block(i: int, o: int, k: tuple[int, int]) -> list[nn.Module]:
            return [nn.Conv2d(i, o, k, padding=(k[0] // 2, k[1] // 2), bias=False),
                    nn.BatchNorm2d(o), nn.LeakyReLU(0.2, inplace=True)]

        # The first kernel spans 12 semitones x 4 steps: an octave's intervals in one beat.
        self.features = nn.Sequential(
            *block(c.in_channels, w, (13, 5)), nn.MaxPool2d(2),  # (N, w, 42, 32)
            *block(w, w * 2, (3, 3)), nn.MaxPool2d(2),  # (N, 2w, 21, 16)
            *block(w * 2, w * 4, (3, 3)),  # (N, 4w, 21, 16)
        )
        self.head = nn.Sequential(nn.Dropout(c.dropout), nn.Linear(w * 8, len(c.styles)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)  # (N, 8w)
        return self.head(pooled)

    @torch.no_grad()
    def probabilities(self, rolls: np.ndarray | torch.Tensor, batch: int = 256) -> np.ndarray:
        """Softmax over ``config.styles`` for each phrase, (N, n_styles)."""
        self.eval()
        x = torch.as_tensor(np.asarray(rolls, dtype=np.float32))
        out = [torch.softmax(self(x[i:i + batch]), dim=1) for i in range(0, len(x), batch)]
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.config.styles)))

    # -- checkpoints ----------------------------------------------------------------------
    def save(self, directory: str | Path, extra: dict | None = None) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()},
                  str(directory / "model.safetensors"))
        meta = {"config": asdict(self.config), **(extra or {})}
        (directory / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path = CLASSIFIER_DIR) -> StyleClassifier:
        directory = Path(directory)
        meta = json.loads((directory / "config.json").read_text())
        model = cls(StyleClassifierConfig(**meta["config"]))
        model.load_state_dict(load_file(str(directory / "model.safetensors")))
        model.eval()
        model.meta = meta
        return model


def transpose_rolls(rolls: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Shift each phrase's pitch axis by ``shifts[i]`` semitones; notes pushed past the edge of
    the 84-pitch range are dropped (rare: the corpus lives in the middle of the range)."""
    out = np.zeros_like(rolls)
    n_pitch = rolls.shape[2]
    for i, s in enumerate(shifts.tolist()):
        if s >= 0:
            out[i, :, s:] = rolls[i, :, : n_pitch - s]
        else:
            out[i, :, :s] = rolls[i, :, -s:]
    return out


def guess_style(classifier: StyleClassifier, rolls: np.ndarray,
                allowed: list[str] | None = None) -> tuple[str, dict[str, float]]:
    """The style of a whole piece: mean of per-phrase probabilities, argmax over ``allowed``
    styles (all by default). Returns (style, {style: mean probability})."""
    probs = classifier.probabilities(rolls)
    styles = classifier.config.styles
    mean = probs.mean(axis=0) if len(probs) else np.full(len(styles), 1.0 / len(styles))
    scores = {s: float(p) for s, p in zip(styles, mean, strict=True)}
    candidates = [s for s in styles if allowed is None or s in allowed]
    return max(candidates, key=lambda s: scores[s]), scores


def train_classifier(train: dict[str, np.ndarray], valid: dict[str, np.ndarray],
                     config: StyleClassifierConfig, minutes: float = 5.0, batch_size: int = 64,
                     lr: float = 1e-3, seed: int = 0, log=None,
                     max_steps: int | None = None) -> tuple[StyleClassifier, list[dict]]:
    """Train on ``train`` (style -> rolls), balanced by sampling each style equally; keep the
    weights with the best validation accuracy (balanced over styles). Returns the model and
    the per-evaluation log rows."""
    import time

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = StyleClassifier(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    styles = config.styles
    per_style = max(1, batch_size // len(styles))
    best, best_state, rows = -1.0, None, []
    start, step = time.monotonic(), 0
    eval_every = 50
    while True:
        elapsed = time.monotonic() - start
        if elapsed > minutes * 60 or (max_steps is not None and step >= max_steps):
            break
        xs, ys = [], []
        for label, style in enumerate(styles):
            pool = train[style]
            idx = rng.integers(0, len(pool), per_style)
            xs.append(pool[idx])
            ys += [label] * per_style
        x = np.concatenate(xs)
        if config.transpose:
            x = transpose_rolls(x, rng.integers(-config.transpose, config.transpose + 1,
                                                len(x)))
        model.train()
        logits = model(torch.from_numpy(x))
        loss = nn.functional.cross_entropy(logits, torch.tensor(ys))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % eval_every == 0:
            acc = balanced_accuracy(model, valid)
            row = {"step": step, "seconds": round(time.monotonic() - start, 1),
                   "train_loss": round(loss.item(), 4), "valid_balanced_acc": round(acc, 4)}
            rows.append(row)
            if log:
                log(row)
            if acc > best:
                best = acc
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, rows


def balanced_accuracy(model: StyleClassifier, data: dict[str, np.ndarray]) -> float:
    """Mean over styles of the share of that style's phrases classified correctly."""
    accs = []
    for label, style in enumerate(model.config.styles):
        rolls = data.get(style)
        if rolls is None or len(rolls) == 0:
            continue
        pred = model.probabilities(rolls).argmax(axis=1)
        accs.append(float((pred == label).mean()))
    return float(np.mean(accs)) if accs else 0.0


def confusion(model: StyleClassifier, data: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Row = true style, column = predicted style, share of that row's phrases."""
    styles = model.config.styles
    out = {}
    for style in styles:
        rolls = data.get(style)
        if rolls is None or len(rolls) == 0:
            continue
        pred = model.probabilities(rolls).argmax(axis=1)
        out[style] = {s: round(float((pred == j).mean()), 4) for j, s in enumerate(styles)}
    return out
