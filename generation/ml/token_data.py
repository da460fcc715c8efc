"""Training data for the continuation Transformer: token windows with their own control prefix.

Prepared once, offline, into ``var/cache/transformer-tokens-<hash>/`` (not committed):

- ``tokens.u16``: every piece's body tokens (Bar ... EOS) back to back, memory-mapped uint16;
- ``windows_<split>.npy``: one row per training window, each starting at a bar line:
  (start, length, style, mode, density_band, register_x100, timesig_token, piece_row);
- ``pieces.json``: (piece id, style, split, start, length) per piece, for evaluation.

A window's prefix is measured from the window's own notes (the excerpt, not the whole piece)
with the same definitions as ``generation.music.attributes`` (mode by Krumhansl-Schmuckler on
the duration-weighted pitch classes, density = notes per beat from first onset to last
note-off, register = mean pitch). Transposition is applied when a batch is drawn: pitch tokens
are shifted together and the register band is recomputed from the shifted mean (the mode and
the density do not change under transposition).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from generation.music import schema
from generation.music.key import key_correlations
from generation.music.notes import Piece
from generation.music.tokenizer import Tokenizer, UnsupportedPiece

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_ROOT = REPO_ROOT / "var" / "cache"
WINDOW_COLUMNS = ("start", "length", "style", "mode", "density_band", "register_x100",
                  "timesig", "piece")
TRANSPOSE_RANGE = (-5, 6)  # semitones, inclusive
FORMAT_VERSION = "2"  # bump when the encoder or the window layout changes (cache key)


def modes_of_histograms(hists: np.ndarray) -> np.ndarray:
    """0 (major) / 1 (minor) per row of (N, 12) duration-weighted pitch-class histograms,
    the same choice as ``generation.music.key.estimate_mode`` (first best of 24 keys)."""
    best = np.argmax(np.round(key_correlations(hists), 12), axis=1)
    return best % 2


def band_index(attr: str, value: float) -> int:
    """Index of the band of ``value`` by the schema's frozen edges."""
    edges = schema.band_edges(attr)
    if edges is None:
        raise RuntimeError(f"{attr} edges are unset; run manage.py build_dataset first")
    return int(np.searchsorted(np.asarray(edges), value, side="right"))


def bar_stats(tok: Tokenizer, body: list[int], first_timesig: int) -> dict[str, np.ndarray]:
    """Per bar of a token body: token offset, note count, pitch sum, first onset, last end
    (beats from the piece start) and a duration-weighted pitch-class histogram."""
    ts_a = tok.ranges["TimeSig"][0]
    p_a, d_a = tok.ranges["Pitch"][0], tok.ranges["Dur"][0]
    pos_a = tok.ranges["Pos"][0]
    offsets, counts, sums, first, last, hists = [], [], [], [], [], []
    bar_steps = tok.timesig_steps[first_timesig - ts_a]
    bar_start = 0
    pos = pitch = 0
    for i, t in enumerate(body):
        if t == tok.bar:
            # a meter change (TimeSig after Bar) applies from that bar on
            bar_start = 0 if not offsets else bar_start + bar_steps
            offsets.append(i)
            counts.append(0)
            sums.append(0)
            first.append(np.inf)
            last.append(-np.inf)
            hists.append(np.zeros(12))
        elif ts_a <= t < ts_a + len(tok.timesig_steps):
            bar_steps = tok.timesig_steps[t - ts_a]
        elif pos_a <= t < pos_a + tok.max_positions:
            pos = t - pos_a
        elif p_a <= t < tok.ranges["Pitch"][1]:
            pitch = t - p_a + tok.config.pitch_low
        elif d_a <= t < tok.ranges["Dur"][1]:
            dur = tok.config.duration_steps[t - d_a] / tok.q
            onset = (bar_start + pos) / tok.q
            counts[-1] += 1
            sums[-1] += pitch
            first[-1] = min(first[-1], onset)
            last[-1] = max(last[-1], onset + dur)
            hists[-1][pitch % 12] += dur
    return {"offset": np.array(offsets, dtype=np.int64), "count": np.array(counts),
            "sum": np.array(sums, dtype=np.float64), "first": np.array(first),
            "last": np.array(last), "hist": np.array(hists).reshape(-1, 12)}


def windows_of_piece(tok: Tokenizer, body: list[int], first_timesig: int, style_i: int,
                     max_len: int, stride_bars: int = 1) -> list[tuple[int, ...]]:
    """Windows (relative start, length, style, mode, density band, register x100, timesig)
    starting at every ``stride_bars``-th bar; each holds at most ``max_len`` body tokens."""
    st = bar_stats(tok, body, first_timesig)
    n_bars = len(st["offset"])
    if n_bars == 0:
        return []
    ts_a, ts_b = tok.ranges["TimeSig"]
    # the meter token in force at each bar
    sig_at = []
    sig = first_timesig
    for b in range(n_bars):
        o = st["offset"][b]
        if o + 1 < len(body) and ts_a <= body[o + 1] < ts_b:
            sig = body[o + 1]
        sig_at.append(sig)
    csum_count = np.concatenate([[0], np.cumsum(st["count"])])
    csum_sum = np.concatenate([[0], np.cumsum(st["sum"])])
    csum_hist = np.concatenate([np.zeros((1, 12)), np.cumsum(st["hist"], axis=0)])
    rows, hists = [], []
    for b in range(0, n_bars, stride_bars):
        start = int(st["offset"][b])
        length = min(max_len, len(body) - start)
        # bars whose Bar token lies inside the window
        e = int(np.searchsorted(st["offset"], start + length, side="left"))
        e = max(e, b + 1)
        n = csum_count[e] - csum_count[b]
        if n == 0:
            continue
        span = st["last"][b:e].max() - st["first"][b:e].min()
        dens = n / span if span > 0 else 0.0
        reg = (csum_sum[e] - csum_sum[b]) / n
        rows.append([start, length, style_i, 0, band_index("density_band", dens),
                     int(round(reg * 100)), sig_at[b]])
        hists.append(csum_hist[e] - csum_hist[b])
    if rows:
        modes = modes_of_histograms(np.array(hists))
        for r, m in zip(rows, modes, strict=True):
            r[3] = int(m)
    return [tuple(r) for r in rows]


@dataclass
class TokenCache:
    """The prepared arrays of one tokenizer + corpus + window length."""

    directory: Path
    tokens: np.ndarray  # uint16 memmap
    windows: dict[str, np.ndarray]
    pieces: list[dict]


def cache_dir_for(tok: Tokenizer, corpus_key: str, max_len: int) -> Path:
    text = FORMAT_VERSION + tok.config.to_json() + corpus_key + str(max_len)
    h = hashlib.sha256(text.encode())
    return CACHE_ROOT / f"transformer-tokens-{h.hexdigest()[:12]}"


def prepare_token_cache(tok: Tokenizer, pieces: Iterable[tuple[str, str, str, Piece]],
                        corpus_key: str, max_len: int, splits=("train", "valid", "test"),
                        progress: bool = True) -> TokenCache:
    """Tokenize (id, style, split, Piece) items once and write the cache (reused if there).

    ``max_len`` is the number of body tokens per window (context length minus the prefix).
    """
    directory = cache_dir_for(tok, corpus_key, max_len)
    if (directory / "done").exists():
        return load_token_cache(directory)
    directory.mkdir(parents=True, exist_ok=True)
    all_tokens: list[np.ndarray] = []
    windows: dict[str, list] = {s: [] for s in splits}
    meta: list[dict] = []
    offset = 0
    skipped = 0
    items = pieces
    if progress:
        from tqdm import tqdm

        items = tqdm(pieces, desc="tokenize", unit="piece", mininterval=5)
    for pid, style, split, piece in items:
        if split not in windows:
            continue
        try:
            body = tok.encode(piece) + [tok.eos]
            ts = tok.timesig_token(*piece.time_signature)
        except UnsupportedPiece:
            skipped += 1
            continue
        style_i = tok.config.styles.index(style)
        row = len(meta)
        for w in windows_of_piece(tok, body, ts, style_i, max_len):
            windows[split].append((w[0] + offset, *w[1:], row))
        meta.append({"id": pid, "style": style, "split": split, "start": offset,
                     "length": len(body), "timesig": ts})
        all_tokens.append(np.asarray(body, dtype=np.uint16))
        offset += len(body)
    flat = np.concatenate(all_tokens) if all_tokens else np.zeros(0, np.uint16)
    flat.tofile(directory / "tokens.u16")
    for split, rows in windows.items():
        arr = np.array(rows, dtype=np.int64).reshape(-1, len(WINDOW_COLUMNS))
        np.save(directory / f"windows_{split}.npy", arr)
    (directory / "pieces.json").write_text(json.dumps(meta), encoding="utf-8")
    (directory / "info.json").write_text(json.dumps(
        {"tokens": int(flat.size), "skipped": skipped, "corpus": corpus_key,
         "windows": {s: len(r) for s, r in windows.items()}}), encoding="utf-8")
    (directory / "done").write_text("ok")
    return load_token_cache(directory)


def load_token_cache(directory: Path) -> TokenCache:
    path = directory / "tokens.u16"
    tokens = (np.memmap(path, dtype=np.uint16, mode="r") if os.path.getsize(path)
              else np.zeros(0, np.uint16))
    windows = {p.stem.split("_", 1)[1]: np.load(p) for p in directory.glob("windows_*.npy")}
    pieces = json.loads((directory / "pieces.json").read_text(encoding="utf-8"))
    return TokenCache(directory, tokens, windows, pieces)


def corpus_items(splits=("train", "valid", "test")) -> tuple[Iterator, str]:
    """(id, style, split, Piece) for the committed corpus, plus a key naming its version."""
    from generation.music.corpus import load_corpus

    data = load_corpus()
    key = json.dumps(data.manifest.get("sha256", data.manifest), sort_keys=True)[:4096]
    key += str(len(data.pieces))

    def gen():
        for info in data.pieces:
            if info.split in splits:
                yield info.id, info.style, info.split, data.piece(info.id)

    return gen(), key


class WindowSampler:
    """Draws training batches of windows: prefix + body tokens, transposed at random."""

    def __init__(self, tok: Tokenizer, cache: TokenCache, split: str, block_size: int,
                 style_balance: float = 0.5, transpose: bool = True):
        self.tok, self.cache, self.block_size = tok, cache, block_size
        self.windows = cache.windows[split]
        self.transpose = transpose
        styles = self.windows[:, 2]
        # style weights proportional to (tokens of the style)^style_balance, spread evenly
        # over that style's windows: small styles are seen more often than their share
        weights = np.zeros(len(self.windows))
        for s in np.unique(styles):
            sel = styles == s
            total = self.windows[sel, 1].sum()
            weights[sel] = total ** style_balance / sel.sum()
        self.p = weights / weights.sum() if len(weights) else weights
        self.reg_edges = np.asarray(schema.band_edges("register_band"))

    def prefix_for(self, w: np.ndarray, shift: int = 0) -> list[int]:
        """The control prefix of a window (register band after transposing by ``shift``)."""
        tok = self.tok
        _, _, style, mode, dens, reg100, ts = (int(x) for x in w[:7])
        reg_band = int(np.searchsorted(self.reg_edges, reg100 / 100.0 + shift, side="right"))
        return [tok.bos, tok.token("Style", style), tok.token("Mode", mode),
                tok.token("Density", dens), tok.token("Register", reg_band), ts]

    def sequence(self, w: np.ndarray, shift: int = 0) -> np.ndarray:
        """Prefix + body tokens of a window, transposed by ``shift`` semitones (no shift when
        that would leave the pitch range), at most block_size + 1 tokens."""
        tok = self.tok
        start, length = int(w[0]), int(w[1])
        body = np.asarray(self.cache.tokens[start:start + length], dtype=np.int64)
        if shift:
            p_a, p_b = tok.ranges["Pitch"]
            is_pitch = (body >= p_a) & (body < p_b)
            moved = body[is_pitch] + shift
            if moved.size and (moved.min() < p_a or moved.max() >= p_b):
                shift = 0
            else:
                body[is_pitch] = moved
        prefix = np.asarray(self.prefix_for(w, shift), dtype=np.int64)
        return np.concatenate([prefix, body])[: self.block_size + 1]

    def row(self, w: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
        tok = self.tok
        seq = self.sequence(w, shift)
        x = np.full(self.block_size, tok.pad, dtype=np.int64)
        y = np.full(self.block_size, -1, dtype=np.int64)
        x[: len(seq) - 1] = seq[:-1]
        y[: len(seq) - 1] = seq[1:]
        # style and attribute tokens are given at inference, never predicted; the meter is
        # predicted (compose lets the model choose a meter that suits the style)
        y[: tok.PREFIX_LEN - 2] = -1
        return x, y

    def batch(self, rng: np.random.Generator, batch_size: int):
        idx = rng.choice(len(self.windows), size=batch_size, p=self.p)
        xs, ys = [], []
        for i in idx:
            lo, hi = TRANSPOSE_RANGE
            shift = int(rng.integers(lo, hi + 1)) if self.transpose else 0
            x, y = self.row(self.windows[i], shift)
            xs.append(x)
            ys.append(y)
        return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
