"""Constrained, seeded, batched sampling from the continuation Transformer with a KV cache.

Promises:
- Every sampled sequence is grammatical (``generation.music.tokenizer.Grammar``): only tokens
  the grammar allows next get probability, so every output decodes to valid MIDI.
- Each request has its own ``torch.Generator``; a request's tokens depend only on its prompt,
  its seed and the sampling settings, not on the other requests in the batch. Prompts of
  different lengths are left-padded; pad keys are masked and each row counts RoPE positions
  from its own first token, so padding cannot change what a row attends to.
- Length is counted in bars: sampling stops after ``bars`` new Bar tokens have been filled
  (the next Bar or EOS ends the row); EOS is not allowed before that.
- A context longer than ``max_context`` slides: the row is re-primed with its control prefix
  plus its most recent whole bars (the rule depends only on the row's own tokens).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch

from generation.ml.guidance import GuideTarget, RowGuide
from generation.music.tokenizer import Grammar, Tokenizer


@dataclass
class SampleSettings:
    bars: int = 8  # new bars to generate
    temperature: float = 1.0  # softmax temperature (> 0)
    top_p: float = 0.95  # nucleus: keep the smallest set of tokens with this much probability
    max_new_tokens: int | None = None  # hard stop (default: 400 tokens a bar)
    force_new_bar: bool = True  # the first new token is a Bar (continuations start a new bar)
    max_tracks: int | None = None  # only Track_0 .. Track_{max_tracks-1} (a seed's parts)
    meter_changes: bool = False  # allow TimeSig tokens after a Bar (new bars keep the meter)
    guide: GuideTarget | None = None  # attribute guidance on the new tokens (see guidance.py)


def _mask_row(tok: Tokenizer, grammar: Grammar, bars_done: int, bars: int,
              max_tracks: int | None = None, meter_changes: bool = False) -> torch.Tensor:
    mask = torch.zeros(tok.vocab_size, dtype=torch.bool)
    for a, b in grammar.allowed():
        mask[a:b] = True
    if not meter_changes and grammar.state != "prefix":
        mask[tok.ranges["TimeSig"][0]: tok.ranges["TimeSig"][1]] = False
    if max_tracks is not None:
        mask[tok.ranges["Track"][0] + max(1, max_tracks): tok.ranges["Track"][1]] = False
    if bars_done < bars:
        mask[tok.eos] = False  # not finished yet
    if not mask.any():  # cannot happen with a grammatical prompt; end the row cleanly
        mask[tok.eos] = True
    return mask


def filter_top_p(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Zero all but the smallest set of most likely tokens whose mass reaches ``top_p``."""
    if top_p >= 1.0:
        return probs
    sorted_p, order = torch.sort(probs, descending=True, stable=True)
    cum = torch.cumsum(sorted_p, dim=-1)
    drop = cum - sorted_p >= top_p  # tokens entirely beyond the nucleus
    drop[..., 0] = False
    sorted_p = sorted_p.masked_fill(drop, 0.0)
    out = torch.zeros_like(probs)
    out.scatter_(-1, order, sorted_p)
    return out


def _window(tok: Tokenizer, tokens: list[int], limit: int) -> list[int]:
    """Prefix + the latest whole bars of ``tokens`` that fit in about half of ``limit``."""
    prefix, body = tokens[: tok.PREFIX_LEN], tokens[tok.PREFIX_LEN:]
    keep = max(1, limit // 2 - len(prefix))
    start = max(0, len(body) - keep)
    # move forward to the next bar line so the window starts at a bar (with its meter known)
    while start < len(body) and body[start] != tok.bar:
        start += 1
    if start >= len(body):
        return tokens[-limit:]
    # the meter in force at that bar: the latest TimeSig before it (prefix one by default)
    sig = prefix[-1]
    a, b = tok.ranges["TimeSig"]
    for t in body[:start]:
        if a <= t < b:
            sig = t
    return prefix[:-1] + [sig] + body[start:]


@contextmanager
def one_cpu_thread(device: torch.device):
    """Decoding one token at a time is a chain of tiny ops: on a CPU, a second thread only
    adds synchronisation (measured here: 1 s with one thread, 13 s with two on a busy
    2-core machine for the same 8 bars). The thread count is restored afterwards."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sample(model, tok: Tokenizer, prompts: list[list[int]], seeds: list[int],
           settings: SampleSettings, device: torch.device | str = "cpu",
           max_context: int | None = None) -> list[list[int]]:
    """Sample continuations of ``prompts`` (each a grammatical token list starting with the
    control prefix). Returns the new tokens of each row (no final Bar/EOS)."""
    device = torch.device(device)
    with one_cpu_thread(device), torch.no_grad():
        return _sample(model, tok, prompts, seeds, settings, device, max_context)


def _sample(model, tok: Tokenizer, prompts: list[list[int]], seeds: list[int],
            settings: SampleSettings, device: torch.device,
            max_context: int | None) -> list[list[int]]:
    assert len(prompts) == len(seeds) and prompts
    model.eval()
    n = len(prompts)
    limit = max_context or model.config.block_size * 2
    max_new = settings.max_new_tokens or 400 * max(1, settings.bars)
    grammars = [Grammar(tok).feed_all(p) for p in prompts]
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    context = [list(p) if len(p) <= limit else _window(tok, p, limit) for p in prompts]
    new: list[list[int]] = [[] for _ in range(n)]
    bars_done = [0] * n
    done = [False] * n
    guides = [RowGuide(tok, settings.guide) for _ in range(n)] if settings.guide else None

    def prime():
        """Run the rows' contexts through the model; returns (cache, key_mask, last logits)."""
        width = max(len(c) for c in context)
        idx = torch.full((n, width), tok.pad, dtype=torch.long)
        key_mask = torch.zeros((n, width), dtype=torch.bool)
        positions = torch.zeros((n, width), dtype=torch.long)
        for i, c in enumerate(context):
            idx[i, width - len(c):] = torch.tensor(c)
            key_mask[i, width - len(c):] = True
            positions[i, width - len(c):] = torch.arange(len(c))
        cache = model.new_cache()
        logits, _ = model(idx.to(device), kv_cache=cache, positions=positions.to(device),
                          key_mask=key_mask.to(device))
        return cache, key_mask.to(device), logits[:, -1, :]

    cache, key_mask, logits = prime()
    next_pos = torch.tensor([len(c) for c in context], dtype=torch.long)
    for _ in range(max_new):
        logits_cpu = logits.float().cpu().double()
        chosen = torch.full((n,), tok.pad, dtype=torch.long)
        active = [i for i in range(n) if not done[i]]
        masks = torch.ones((n, tok.vocab_size), dtype=torch.bool)
        for i in active:
            mask = _mask_row(tok, grammars[i], bars_done[i], settings.bars,
                             settings.max_tracks, settings.meter_changes)
            if settings.force_new_bar and not new[i] and grammars[i].accepts(tok.bar):
                mask[:] = False
                mask[tok.bar] = True
            masks[i] = mask
        # row-wise operations, done for all rows at once (each row's numbers are its own)
        if guides is not None:
            for i in active:
                b = guides[i].bias(grammars[i])
                if b is not None:
                    logits_cpu[i] += b * max(settings.temperature, 1e-4)
        rows = logits_cpu.masked_fill(~masks, float("-inf"))
        all_probs = filter_top_p(torch.softmax(rows / max(settings.temperature, 1e-4), dim=-1),
                                 settings.top_p)
        for i in active:
            t = int(torch.multinomial(all_probs[i], 1, generator=gens[i]))
            if t == tok.eos or (t == tok.bar and bars_done[i] >= settings.bars):
                done[i] = True
                continue
            grammars[i].feed(t)
            if guides is not None:
                guides[i].feed(t, grammars[i])
            if t == tok.bar:
                bars_done[i] += 1
            new[i].append(t)
            context[i].append(t)
            chosen[i] = t
        if all(done):
            break
        if any(len(c) > limit for c in context):
            # slide: each over-long row keeps its prefix and latest bars; others unchanged
            context = [_window(tok, p + nw, limit) if len(c) > limit else c
                       for c, p, nw in zip(context, prompts, new, strict=True)]
            cache, key_mask, logits = prime()
            next_pos = torch.tensor([len(c) for c in context], dtype=torch.long)
            continue
        key_mask = torch.cat([key_mask, torch.ones((n, 1), dtype=torch.bool, device=device)], 1)
        logits, _ = model(chosen[:, None].to(device), kv_cache=cache,
                          positions=next_pos[:, None].to(device), key_mask=key_mask)
        logits = logits[:, -1, :]
        next_pos = next_pos + 1
    return new
