"""The continuation model: a small decoder-only Transformer (after nanoGPT), in one file.

Rotary position embeddings (RoPE) instead of learned positions, so the model can keep going
past the length it was trained on (the sampler slides its window; positions are relative).
``forward`` takes an optional ``KVCache`` for incremental decoding and optional per-row
positions plus a key mask, so a batch of left-padded prompts decodes exactly as each prompt
would alone (pad keys are masked; each row counts its positions from its first real token).
Imports only torch.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class TransformerConfig:
    vocab_size: int = 307  # token ids 0..vocab_size-1 (from the tokenizer)
    block_size: int = 512  # training context length in tokens (RoPE lets sampling go further)
    n_layer: int = 4  # Transformer blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 256  # model width; head size is n_embd // n_head
    dropout: float = 0.1  # dropout on attention weights and residual branches (training only)
    rope_base: float = 10000.0  # RoPE frequency base
    bias: bool = False  # biases in Linear and LayerNorm layers
    n_slots: int = 0  # learned slot embeddings added to the tokens (v2: voice x frame); 0 = none

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TransformerConfig:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


class KVCache:
    """Keys and values of every layer for the tokens seen so far: list of (B, nh, S, hs)."""

    def __init__(self, n_layer: int):
        self.k: list[torch.Tensor | None] = [None] * n_layer
        self.v: list[torch.Tensor | None] = [None] * n_layer

    @property
    def length(self) -> int:
        return 0 if self.k[0] is None else self.k[0].shape[2]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        if self.k[layer] is None:
            self.k[layer], self.v[layer] = k, v
        else:
            self.k[layer] = torch.cat([self.k[layer], k], dim=2)
            self.v[layer] = torch.cat([self.v[layer], v], dim=2)
        return self.k[layer], self.v[layer]


def rope_tables(positions: torch.Tensor, head_size: int, base: float):
    """cos/sin tables for integer positions (B, T) -> (B, 1, T, hs/2) each."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_size, 2, device=positions.device).float()
                               / head_size))
    angles = positions.float()[..., None] * inv_freq  # (B, T, hs/2)
    return angles.cos()[:, None], angles.sin()[:, None]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x1, x2) of each head vector by the position angle. x: (B, nh, T, hs)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.dropout = config.dropout

    def forward(self, x, cos, sin, layer: int, kv_cache: KVCache | None, mask):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if kv_cache is not None:
            k, v = kv_cache.append(layer, k, v)  # (B, nh, S, hs), S = past + T
        drop = self.dropout if self.training else 0.0
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cos, sin, layer, kv_cache, mask):
        x = x + self.attn(self.ln_1(x), cos, sin, layer, kv_cache, mask)
        return x + self.mlp(self.ln_2(x))


class MusicTransformer(nn.Module):
    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wse = nn.Embedding(config.n_slots, config.n_embd) if config.n_slots else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2 scaled init of residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self) -> KVCache:
        return KVCache(self.config.n_layer)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                kv_cache: KVCache | None = None, positions: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None, slots: torch.Tensor | None = None):
        """idx (B, T) -> (logits (B, T, V), loss or None).

        kv_cache: appended to in place; idx are then the tokens after the cached ones.
        positions (B, T): RoPE positions (default: cache length + arange(T)).
        key_mask (B, S): True where a key is a real token (S = cache length + T); padding keys
        are never attended to. Loss ignores targets equal to -1.
        slots (B, T): the slot of each token (a model with ``n_slots``; 0 = no slot).
        """
        B, T = idx.shape
        past = kv_cache.length if kv_cache is not None else 0
        if positions is None:
            positions = torch.arange(past, past + T, device=idx.device).expand(B, T)
        hs = self.config.n_embd // self.config.n_head
        cos, sin = rope_tables(positions, hs, self.config.rope_base)
        mask = None
        if past > 0 or key_mask is not None:
            S = past + T
            causal = torch.ones(T, S, dtype=torch.bool, device=idx.device).tril(diagonal=past)
            mask = causal[None, None]  # (1, 1, T, S)
            if key_mask is not None:
                mask = mask & key_mask[:, None, None, :]
                # a padding query row would attend to nothing; let it see itself (never used)
                rows = torch.arange(T, device=idx.device)[:, None] + past
                mask = mask | (torch.arange(S, device=idx.device)[None, :] == rows)
        x = self.wte(idx)  # (B, T, C)
        if self.wse is not None:
            x = x + self.wse(slots if slots is not None else torch.zeros_like(idx))
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, i, kv_cache, mask)
        x = self.ln_f(x)
        if targets is not None:
            logits = self.lm_head(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1),
                                   ignore_index=-1)
            return logits, loss
        return self.lm_head(x), None

    def configure_optimizer(self, lr: float, weight_decay: float, betas=(0.9, 0.95)):
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        groups = [{"params": decay, "weight_decay": weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=lr, betas=betas)


def lr_at(step: int, progress: float, max_lr: float, warmup: int,
          min_ratio: float = 0.1) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to ``min_ratio * max_lr`` as
    ``progress`` (share of the step or time budget spent, 0..1) goes to 1."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = min(1.0, max(0.0, progress))
    return max_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
