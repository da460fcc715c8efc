"""Training data for the v2 (grid) model: every usable corpus piece as one token sequence.

Which pieces: those in a meter their style uses (``grid.STYLE_METERS``) with no real meter
change (a short first "meter" that only holds a pickup is fine: the pickup is re-aligned),
and, for the four-voice styles, at least four lines. A Renaissance piece in five or more
parts gives up to three four-voice sequences (top and bottom line with two of the inner
ones), which is the only augmentation apart from dropout: pitches are moved to C on purpose
(see ``grid.py``), so transposition would undo the point.

``WindowSampler`` draws training windows of at most ``block`` tokens: the prefix, then whole
bars from a random bar of the piece; the countdown tokens stay those of the whole piece, and
a window that reaches the end keeps the End token. Styles are drawn with weights ~ sqrt of
their tokens, so 260 chorales are not drowned by 1,600 folk songs.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from generation.music import attributes, schema
from generation.music.corpus import Corpus, PieceInfo, load_corpus
from generation.music.grid import (
    MAX_FRAMES,
    STYLE_METERS,
    STYLE_VOICES,
    GridCodec,
    bar_frames,
    piece_to_grid,
    voice_lines,
)


@dataclass
class GridSequence:
    piece_id: str
    style: str
    meter: tuple[int, int]
    tokens: np.ndarray  # int64, prefix + bars + End
    density: float = 0.0  # onsets per beat of these voices as the grid holds them
    register: float = 0.0  # their mean pitch in the piece's own key


def measures(codec: GridCodec, frames: np.ndarray, style: str, meter: tuple[int, int],
             transpose: int) -> tuple[float, float]:
    """(density, register) of grid frames as ``measure_attributes`` reads a piece: the notes
    the model sees (its voices, on its grid), in the key they were written in."""
    piece = codec.voices_to_piece(frames, style, meter, transpose=-transpose)
    return attributes.density(piece), attributes.register(piece)


def usable_meter(info: PieceInfo) -> bool:
    """The piece's main meter is one its style uses and it never changes to another meter
    (a first segment shorter than a bar, a pickup, is allowed)."""
    meter = tuple(info.meter)
    if meter not in STYLE_METERS[info.style]:
        return False
    bar = 4 * meter[0] / meter[1]
    ts = list(info.time_signatures)
    for i, (beat, n, d) in enumerate(ts):
        if (n, d) == meter:
            continue
        nxt = ts[i + 1][0] if i + 1 < len(ts) else math.inf
        if not (i == 0 and nxt - beat < bar):
            return False
    return True


def piece_sequences(corpus: Corpus, info: PieceInfo, codec: GridCodec,
                    max_subsets: int = 3) -> list[GridSequence]:
    """0..max_subsets sequences for one piece (empty when the piece is not usable)."""
    if not usable_meter(info):
        return []
    piece = corpus.piece(info.id)
    V = STYLE_VOICES[info.style]
    n_lines = len(voice_lines(piece))
    if n_lines < V or (V == 1 and n_lines != 1):
        return []
    if V == 1:
        subsets = [[0]]
    else:
        inner = list(itertools.combinations(range(1, n_lines - 1), V - 2))
        subsets = [[0, *c, n_lines - 1] for c in inner[:max_subsets]]
    mode = info.mode if info.mode in ("major", "minor") else "major"
    out = []
    for voices in subsets:
        frames, transpose = piece_to_grid(piece, info.style, tuple(info.meter), info.key,
                                          codec, voices=voices)
        dens, reg = measures(codec, frames, info.style, tuple(info.meter), transpose)
        # the density token: the band of these voices within the style (schema ``by_style``)
        band = schema.density_band(dens, info.style) or "moderate"
        tokens = codec.encode_voices(frames, info.style, tuple(info.meter), mode, band)
        out.append(GridSequence(info.id, info.style, tuple(info.meter),
                                np.asarray(tokens, dtype=np.int64), dens, reg))
    return out


def build_sequences(split: str, codec: GridCodec, corpus: Corpus | None = None,
                    styles: list[str] | None = None, limit: int | None = None
                    ) -> list[GridSequence]:
    corpus = corpus or load_corpus()
    out: list[GridSequence] = []
    for style in styles or list(STYLE_VOICES):
        infos = corpus.select(split=split, style=style)
        for info in infos[:limit]:
            out.extend(piece_sequences(corpus, info, codec))
    return out


def voice_ranges(seqs: list[GridSequence], codec: GridCodec, margin: int = 2
                 ) -> dict[str, list[list[int]]]:
    """Per style and voice, the pitch range seen (0.2 / 99.8 percentiles) widened by
    ``margin`` semitones: the decoder keeps each voice inside it."""
    out: dict[str, list[list[int]]] = {}
    for style, V in STYLE_VOICES.items():
        ranges = []
        for v in range(V):
            pitches = []
            for s in seqs:
                if s.style != style:
                    continue
                frames = codec.frames_of(s.tokens.tolist(), style, s.meter)
                col = frames[:, v]
                col = col[(col >= codec.pitch0) & (col < codec.pitch0 + 88)]
                pitches.append(col - codec.pitch0 + codec.config.lowest)
            if not pitches:
                ranges.append([codec.config.lowest, codec.config.highest])
                continue
            allp = np.concatenate(pitches)
            lo, hi = np.percentile(allp, [0.2, 99.8])
            ranges.append([int(max(codec.config.lowest, math.floor(lo) - margin)),
                           int(min(codec.config.highest, math.ceil(hi) + margin))])
        out[style] = ranges
    return out


class WindowSampler:
    """Random training windows: (tokens, slots, targets) batches of shape (B, block)."""

    def __init__(self, seqs: list[GridSequence], codec: GridCodec, block: int, seed: int = 0):
        self.seqs, self.codec, self.block = seqs, codec, block
        self.rng = np.random.default_rng(seed)
        self.by_style: dict[str, list[int]] = {}
        for i, s in enumerate(seqs):
            self.by_style.setdefault(s.style, []).append(i)
        styles = sorted(self.by_style)
        tokens = np.array([sum(len(seqs[i].tokens) for i in self.by_style[s]) for s in styles],
                          dtype=np.float64)
        self.styles = styles
        self.style_p = np.sqrt(tokens) / np.sqrt(tokens).sum()

    def window(self, seq: GridSequence) -> tuple[np.ndarray, np.ndarray]:
        V, F = STYLE_VOICES[seq.style], bar_frames(seq.style, seq.meter)
        per_bar = 1 + V * F
        body = seq.tokens[4:]
        n_bars = (len(body) - 1) // per_bar  # the last token is End
        fit = max(1, (self.block - 4 - 1) // per_bar)
        if n_bars <= fit:
            tokens = seq.tokens
        else:
            b0 = int(self.rng.integers(0, n_bars - fit + 1))
            chunk = body[b0 * per_bar:(b0 + fit) * per_bar]
            if b0 + fit == n_bars:
                chunk = np.concatenate([chunk, [self.codec.end]])
            tokens = np.concatenate([seq.tokens[:4], chunk])
        tokens = tokens[:self.block + 1]
        slots = self.codec.slots(seq.style, seq.meter, len(tokens))
        return tokens, slots

    def batch(self, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = np.full((batch_size, self.block), self.codec.pad, dtype=np.int64)
        s = np.zeros((batch_size, self.block), dtype=np.int64)
        y = np.full((batch_size, self.block), -1, dtype=np.int64)
        for b in range(batch_size):
            style = self.styles[int(self.rng.choice(len(self.styles), p=self.style_p))]
            ids = self.by_style[style]
            tokens, slots = self.window(self.seqs[ids[int(self.rng.integers(len(ids)))]])
            n = len(tokens) - 1
            x[b, :n], s[b, :n], y[b, :n] = tokens[:-1], slots[:-1], tokens[1:]
            y[b, :3] = -1  # the prefix is given, never predicted (except Density -> Bar on)
        return x, s, y


N_SLOTS = 1 + 4 * MAX_FRAMES
