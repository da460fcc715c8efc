"""The v2 composer: the grid model (``generation.music.grid``) behind the same engine API as
v1 (``compose``, ``continue_piece``, ``load_default_model``), so the worker can serve either.

Promises (beside v1's, see ``compose.py``):
- A composition is exactly ``bars`` bars of a meter its style uses, in the style's fixed
  number of voices, each voice one line from the first bar to the last (a note, a held note
  or a rest in every frame), inside the range the style's voice had in training.
- The model writes in C (its training music was moved there); the key of the result is
  chosen afterwards so that the mean pitch falls in the requested register band (the bands
  within the style, ``schema.band_edges(..., style)``), with the fewest accidentals when
  several keys do.
- ``candidates`` samples are drawn per variant and the best is kept by the model's own mean
  log-likelihood and a musical critic (``generation.music.critic``: parallels, unprepared
  strong-beat dissonance, crossings, hammered notes, wild leaps, notes out of key, a final
  cadence), and by the requested mode and density band; no attribute is pushed into the
  logits note by note.
- Structure the model does not reliably keep by itself is given to it: a one-line tune's
  repeat pattern is drawn from the corpus (``generation.ml.form``) and those bars copied; a
  new piece's pickup (how far into bar 1 its music starts) is drawn from the corpus too, as
  often as real pieces of its style and meter start there; a chorale keeps the voicing rules
  of ``generation.music.voicing`` (ranges, spacing, no crossing, unison, clash, parallels),
  and Renaissance lines their leap and parallel rules, as masks while it is sampled.
- ``continue_piece`` keeps the seed's notes verbatim and adds exactly ``bars`` bars after
  the first bar line that follows the seed, in the seed's meter and key, written into the
  seed's own parts.
- The same seed gives the same notes, alone or batched with other candidates.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from generation.ml import form
from generation.ml.compose import (
    DEFAULT_ATTRIBUTES,
    STYLE_PROGRAMS,
    GeneratedPiece,
    _seeds,
    _with_dynamics,
    model_version,
)
from generation.ml.compose import (
    _bands as _v1_bands,
)
from generation.ml.device import select_device
from generation.ml.sampling import filter_top_p, one_cpu_thread
from generation.music import schema
from generation.music import voicing as voicing_rules
from generation.music.attributes import measure_attributes
from generation.music.critic import critique, penalty
from generation.music.grid import (
    PITCH_NAMES,
    STYLE_GRID,
    STYLE_METERS,
    STYLE_VOICES,
    GridCodec,
    bar_frames,
    line_order,
    lines_to_frames,
    shift_to_c,
    voice_lines,
)
from generation.music.key import estimate_key
from generation.music.notes import Note, Part, Piece
from generation.music.voicing import Voicing

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = REPO_ROOT / "generation" / "checkpoints" / "grid_v2"
# Candidates per variant, sampled side by side. They form DEFAULT_GROUPS groups judged bar by
# bar by the critic (``sample_bars``' ``bar_fault``; 0 = whole pieces only); of the groups'
# pieces the best by likelihood + critic + requested attributes is kept. Chosen with
# ``python -m generation.ml.evaluate_v2 --sweep`` (figures in the model card): against 4 whole
# candidates, parallels per 10 notes 0.18 -> 0.07 and strong-beat dissonances 0.16 -> 0.06
# (real music 0.005 and 0.074), the same attribute control, about 1.7x the time.
DEFAULT_CANDIDATES = 8
DEFAULT_GROUPS = 2
# What a bar with no attacks at all costs against the rows' median (in critic units).
SHORTFALL_WEIGHT = 2.0
# What new bars whose density lies outside the requested band cost (in critic units).
DENSITY_WEIGHT = 1.0
# How much one unit of the critic's penalty weighs against one nat of mean log-likelihood.
CRITIC_WEIGHT = 0.5
# What a beat of an empty fifth or bare octave costs in a style of full chords (chorales)
HOLLOW_WEIGHT = 1.5
# ... and a beat of three pitch classes within a major third (E-F-G)
CLUSTER_WEIGHT = 1.0
# ... and each lower-voice attack under a top-voice note of 3 beats or more (a fermata)
HELD_WEIGHT = 1.0
# ... and, in minor, a phrase end reached from a dominant without its leading tone (v-i)
MINOR_CADENCE_WEIGHT = 2.0
# ... and a 6/4 chord on a beat, once more where a top note of two beats or more begins
SIX_FOUR_WEIGHT = 1.0
# ... and a lower voice rocking between two pitches (F-G-F-G)
WOBBLE_WEIGHT = 1.0
# ... and a top note of two beats or more that ends on anything but a plain triad in root
# position or first inversion
PHRASE_END_WEIGHT = 2.0
# ... and a long top note not reached by a root moving a fifth (no cadence)
CADENCE_WEIGHT = 2.0
# ... and a beat of two pitch classes or fewer in four voices
THIN_WEIGHT = 1.0
# ... and a chord's seventh that does not step down (or stay) to the next note
SEVENTH_WEIGHT = 1.0
# ... and each restrike of a lower voice's pitch beyond Bach's share of them (15% of moves)
RESTRIKE_WEIGHT = 1.0
# a whole bar of silence in a candidate, in the final choice: any candidate without one wins
SILENT_BAR_WEIGHT = 10.0
# Draw a one-line tune's repeat pattern and a piece's pickup from the corpus
# (generation.ml.form)
FORM = True
# Keep the style's voicing rules (generation.music.voicing) note by note while sampling
VOICING = True


@dataclass
class GridEngine:
    """A loaded v2 checkpoint."""

    model: torch.nn.Module
    codec: GridCodec
    device: torch.device
    version: str
    directory: Path
    meta: dict
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def load_model(directory: str | Path = DEFAULT_CHECKPOINT,
               device: str | torch.device | None = None) -> GridEngine:
    from generation.ml.train_grid import load_checkpoint

    directory = Path(directory)
    if not (directory / "model.safetensors").exists():
        raise FileNotFoundError(f"no v2 checkpoint in {directory}")
    dev = device if isinstance(device, torch.device) else select_device(device)
    model, codec, meta = load_checkpoint(directory, dev)
    return GridEngine(model, codec, dev, model_version(directory / "model.safetensors"),
                      directory, meta)


_DEFAULT: dict[str, GridEngine] = {}
_DEFAULT_LOCK = threading.Lock()


def load_default_model(device: str | torch.device | None = None) -> GridEngine:
    """The committed v2 checkpoint, loaded once per process and device."""
    key = str(select_device(device))
    with _DEFAULT_LOCK:
        if key not in _DEFAULT:
            _DEFAULT[key] = load_model(DEFAULT_CHECKPOINT, key)
        return _DEFAULT[key]


# -- sampling ----------------------------------------------------------------------------------
class StaticKVCache:
    """A KV cache with room for ``capacity`` tokens allocated once, written in place (the
    model's ``KVCache`` concatenates, which copies the whole cache at every token)."""

    def __init__(self, model, batch: int, capacity: int):
        c = model.config
        hs = c.n_embd // c.n_head
        dev = next(model.parameters()).device
        self.k = torch.zeros(c.n_layer, batch, c.n_head, capacity, hs, device=dev)
        self.v = torch.zeros_like(self.k)
        self.lengths = [0] * c.n_layer

    @property
    def length(self) -> int:
        return self.lengths[0]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        a = self.lengths[layer]
        b = a + k.shape[2]
        self.k[layer, :, :, a:b] = k
        self.v[layer, :, :, a:b] = v
        self.lengths[layer] = b
        return self.k[layer, :, :, :b], self.v[layer, :, :, :b]


@dataclass
class Sampled:
    frames: np.ndarray  # (new frames, V) grid tokens
    logp: float  # mean log-probability of the sampled tokens (nats)


def _allowed_masks(engine: GridEngine, style: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Per voice: (V, vocab) True where a token may start or rest; and the Hold id mask."""
    codec = engine.codec
    V = STYLE_VOICES[style]
    allow = torch.zeros(V, codec.vocab_size, dtype=torch.bool)
    for v in range(V):
        lo, hi = codec.voice_range(style, v)
        allow[v, codec.pitch_id(lo):codec.pitch_id(hi) + 1] = True
        allow[v, codec.rest] = True
    hold = torch.zeros(codec.vocab_size, dtype=torch.bool)
    hold[codec.hold] = True
    return allow, hold


def _decoding(fn):
    """Run ``fn(engine, ...)`` without gradients and on one CPU thread (see
    ``sampling.one_cpu_thread``: a second thread makes token-by-token decoding many times
    slower on a busy machine; measured here, 73 s against 4.6 s for one chorale)."""
    @functools.wraps(fn)
    def wrapper(engine, *args, **kwargs):
        with one_cpu_thread(engine.device), torch.no_grad():
            return fn(engine, *args, **kwargs)
    return wrapper


@_decoding
def sample_bars(engine: GridEngine, prefix: list[int], context: np.ndarray, style: str,
                meter: tuple[int, int], total_bars: int, new_bars: int, seeds: list[int],
                temperature: float = 1.0, top_p: float = 0.95,
                fixed: np.ndarray | None = None, bar_fault=None,
                groups: int = 1, voicing: Voicing | None = None,
                repeats: dict[int, int] | None = None, lead_in: int = 0) -> list[Sampled]:
    """Sample ``new_bars`` bars after ``context`` ((bars*F, V) grid tokens of the bars before)
    for each seed, one row per seed. ``fixed`` ((new_bars*F, V), -1 = free) forces tokens
    (a given melody). The countdown runs towards ``total_bars`` = context bars + new bars.
    When the sequence outgrows the model's context, the oldest bars are dropped (the prefix
    stays) and the cache is rebuilt.

    ``bar_fault(window, bar, last, so_far)``, when given, makes the rows of each of
    ``groups`` groups a small population that is judged bar by bar: ``window`` is (rows,
    frames, V), the bar just written with the one before it (from the context for the first
    new bar), ``so_far`` every new bar up to this one, and the function returns one fault
    figure per row (the critic's, lower is better). After every
    bar each group keeps its row with the fewest faults (the first such row: the rows are
    independent draws, so that is a draw at random among the equals) and all the group's
    rows go on from it, each with its own random numbers. A fault is then mended where it
    happens instead of by choosing among whole pieces, each with faults somewhere; the
    groups stay distinct pieces. Likelihood takes no part in the choice: preferring the
    likelier bar makes music blander (fewer pitch classes, more repeated notes; measured
    with ``evaluate_v2 --sweep`` and the two-sample features).

    ``voicing`` (``generation.music.voicing``, in the grid's pitches), when given, keeps its
    rules note by note for the free voices: ranges, spacing, no crossing or unison, no
    clash with a voice attacking at the same moment, no parallel fifths or octaves, no rest
    while the top voice sounds (a
    row for which the rules leave nothing falls back to the style's ranges).

    ``repeats`` ({new bar: earlier bar}, 0-based from the first new bar, a negative earlier
    bar lying in ``context``; ``generation.ml.form``) copies those bars note for note from
    each row's own earlier bar (a bar that opens with a note held
    from the bar before opens with that note struck where the copy's bar before is silent
    or sounds another pitch); the model writes the others with the copies in its context.
    Copied tokens, like fixed ones, take no part in ``logp``.

    ``lead_in`` (frames, under a bar; ``form.draw_lead_in``): the first new bar is silent in
    every voice until then and the top voice attacks there, a pickup."""
    codec, model, dev = engine.codec, engine.model, engine.device
    V, F = STYLE_VOICES[style], bar_frames(style, meter)
    per_bar = 1 + V * F
    block = model.config.block_size
    B = len(seeds)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    allow, hold_mask = _allowed_masks(engine, style)
    ctx_bars = context.shape[0] // F
    history = [[codec.bar_id(total_bars - b), *context[b * F:(b + 1) * F].reshape(-1).tolist()]
               for b in range(ctx_bars)]
    new = np.zeros((B, new_bars * F, V), dtype=np.int64)
    logp = np.zeros(B)
    count = 0
    group_of = np.arange(B) * max(1, min(groups, B)) // B  # contiguous groups of rows
    sounding = np.zeros((B, V), dtype=bool)
    if ctx_bars:
        sounding[:] = codec.sounds(context[-1])[None, :]
    current = np.broadcast_to(_sounding_pitches(codec, context, V), (B, V)).copy()
    attacked = np.zeros((B, V), dtype=bool)
    grid_pitches = np.arange(codec.config.lowest, codec.config.highest + 1)
    under_held = _under_held_top(codec, fixed, style, new_bars * F) if voicing is not None \
        else np.zeros(new_bars * F, dtype=bool)
    num, den = meter
    per_beat = max(1, int(round((1.5 if den == 8 and num % 3 == 0 else 4 / den)
                                / STYLE_GRID[style])))
    at_beat = None  # (rows, voices): the pitches of the last beat, for the voicing rules

    def window(bar_lists: list[list[int]]) -> list[int]:
        keep = max(0, len(bar_lists) - max(0, (block - len(prefix) - per_bar) // per_bar))
        return prefix + [t for bl in bar_lists[keep:] for t in bl]

    all_slots = torch.from_numpy(codec.slots(style, meter, block + per_bar)).to(dev)

    def run(tokens: torch.Tensor, cache, start: int):
        n = tokens.shape[1]
        pos = torch.arange(start, start + n, device=dev).expand(B, -1)
        logits, _ = model(tokens.to(dev), kv_cache=cache, positions=pos,
                          slots=all_slots[start:start + n].expand(B, -1))
        return logits[:, -1].float().cpu()

    # one stream of uniform numbers per row, drawn up front: a row samples the same notes
    # whatever else is in the batch (inverse-CDF sampling, vectorised over rows)
    uniforms = torch.stack([torch.rand(new_bars * F * V, generator=g, dtype=torch.float64)
                            for g in gens])
    allow_b = allow[None].expand(B, -1, -1)
    per_row_hist = [[list(h) for h in history] for _ in range(B)]
    no_rest = torch.ones(codec.vocab_size, dtype=torch.bool)
    no_rest[codec.rest] = False
    k, cache, length, logits = 0, None, 0, None
    for b in range(new_bars):
        bar_tok = codec.bar_id(total_bars - ctx_bars - b)
        if cache is None or length + per_bar > block:  # (re)build the window and its cache
            seq = [window(h) for h in per_row_hist]
            cache = StaticKVCache(model, B, block + 1)
            x = torch.cat([torch.tensor(seq, dtype=torch.long), torch.full((B, 1), bar_tok)],
                          dim=1)
            logits = run(x, cache, 0)
            length = x.shape[1]
        else:
            logits = run(torch.full((B, 1), bar_tok), cache, length)
            length += 1
        last_bar = total_bars - ctx_bars - b == 1
        for f in range(F):
            fr = b * F + f
            attacked[:] = False
            before = current.copy()
            on_beat = f % per_beat == 0
            for v in range(V):
                if fixed is not None and fixed[fr, v] >= 0:
                    toks = torch.full((B,), int(fixed[fr, v]), dtype=torch.long)
                elif b == 0 and fr < lead_in:  # before the pickup: silence, as given
                    toks = torch.full((B,), codec.rest, dtype=torch.long)
                elif repeats and b in repeats:
                    toks = torch.from_numpy(_copied(codec, context, new, repeats[b] * F + f,
                                                    v, current[:, v], f == 0))
                else:
                    mask = allow_b[:, v] | (hold_mask[None]
                                            & torch.from_numpy(sounding[:, v])[:, None])
                    if last_bar and f == 0 and v == 0:  # the last bar sounds from its start
                        mask = mask & no_rest
                    if lead_in and b == 0 and fr == lead_in and v == 0:  # the pickup note
                        mask = mask & no_rest
                    if voicing is not None:
                        mask = _voicing_mask(codec, voicing, v, mask, current, attacked,
                                             before, sounding[:, v], grid_pitches,
                                             hold_only=v > 0 and bool(under_held[fr]),
                                             beat_before=at_beat if on_beat else None)
                    masked = logits.masked_fill(~mask, -math.inf)
                    logprobs = torch.log_softmax(masked, dim=-1)
                    probs = torch.softmax(masked / max(temperature, 1e-4), dim=-1).double()
                    if top_p < 1.0:
                        probs = filter_top_p(probs, top_p)
                    cdf = torch.cumsum(probs, dim=-1)
                    u = (uniforms[:, k:k + 1] * cdf[:, -1:]).clamp_(min=1e-12)
                    toks = torch.searchsorted(cdf, u).squeeze(1).clamp_(max=codec.vocab_size - 1)
                    logp += logprobs.gather(1, toks[:, None]).squeeze(1).numpy()
                    count += 1
                k += 1
                t_np = toks.numpy()
                new[:, fr, v] = t_np
                sounding[:, v] = codec.sounds(t_np)
                starts = (t_np >= codec.pitch0) & (t_np < codec.pitch0 + len(grid_pitches))
                attacked[:, v] = starts
                current[:, v] = np.where(starts, t_np - codec.pitch0 + codec.config.lowest,
                                         np.where(sounding[:, v], current[:, v], -1))
                if not (b == new_bars - 1 and f == F - 1 and v == V - 1):
                    logits = run(toks[:, None], cache, length)  # none after the last token
                length += 1
            if on_beat:
                at_beat = current.copy()
        for r in range(B):
            per_row_hist[r].append([bar_tok, *new[r, b * F:(b + 1) * F].reshape(-1).tolist()])
        if bar_fault is not None and B > 1:
            if b == 0:
                recent = np.concatenate([np.broadcast_to(context[-F:], (B, min(F, len(context)),
                                                                        V)),
                                         new[:, :F]], axis=1)
            else:
                recent = new[:, (b - 1) * F:(b + 1) * F]
            fault = np.asarray(bar_fault(recent, b, b == new_bars - 1, new[:, :(b + 1) * F]),
                               dtype=np.float64)
            score = -fault  # ties go to the lowest row: a random draw among equals
            src = np.array([np.flatnonzero(group_of == g)[np.argmax(score[group_of == g])]
                            for g in group_of])
            if (src != np.arange(B)).any():
                pick = torch.from_numpy(src)
                cache.k.copy_(cache.k[:, pick])
                cache.v.copy_(cache.v[:, pick])
                new[:] = new[src]
                logp[:] = logp[src]
                sounding[:] = sounding[src]
                current[:] = current[src]
                if at_beat is not None:
                    at_beat[:] = at_beat[src]
                per_row_hist = [[list(h) for h in per_row_hist[i]] for i in src]
    rows = range(B) if bar_fault is None or B == 1 else [
        int(np.flatnonzero(group_of == g)[0]) for g in np.unique(group_of)]
    return [Sampled(new[r], logp[r] / max(1, count)) for r in rows]


def _copied(codec: GridCodec, context: np.ndarray, new: np.ndarray, src: int, v: int,
            sounding_now: np.ndarray, bar_start: bool) -> np.ndarray:
    """(rows,) the tokens of frame ``src`` of voice ``v`` copied (``src`` counts from the
    first new frame; a negative one lies in ``context``); a Hold at a copied bar's start
    becomes the held pitch struck again unless that very pitch sounds now."""
    rows = new.shape[0]
    if src >= 0:
        toks = new[:, src, v].copy()
    else:
        toks = np.full(rows, context[len(context) + src, v], dtype=np.int64)
    if bar_start:
        for r in np.flatnonzero(toks == codec.hold):
            back = np.concatenate([context[:, v], new[r, :max(src + 1, 0), v]])
            back = back[:len(context) + src + 1]
            pitched = np.flatnonzero((back >= codec.pitch0)
                                     & (back < codec.pitch0 + codec.config.highest
                                        - codec.config.lowest + 1))
            if not len(pitched):
                toks[r] = codec.rest
                continue
            pitch = int(back[pitched[-1]]) - codec.pitch0 + codec.config.lowest
            if pitch != sounding_now[r]:
                toks[r] = back[pitched[-1]]
    return toks


def _sounding_pitches(codec: GridCodec, context: np.ndarray, V: int) -> np.ndarray:
    """(V,) the grid pitch each voice sounds at the end of ``context`` (-1 silent)."""
    out = np.full(V, -1, dtype=np.int64)
    for v in range(V):
        for t in context[::-1, v].tolist():
            if codec.is_pitch(t):
                out[v] = t - codec.pitch0 + codec.config.lowest
            if t != codec.hold:
                break
    return out


def _under_held_top(codec: GridCodec, fixed: np.ndarray | None, style: str,
                    n_frames: int) -> np.ndarray:
    """(frames,) True inside a given top-voice note (``fixed``) of ``voicing.HELD_BEATS`` or more, after
    its first frame: a fermata's length, under which Bach holds the chord (he moves under 1
    of 14 such notes in 12 held-out chorales; ``voicing.moving_under_held``)."""
    out = np.zeros(n_frames, dtype=bool)
    if fixed is None:
        return out
    top = fixed[:n_frames, 0]
    frames = int(round(voicing_rules.HELD_BEATS / float(STYLE_GRID[style])))
    starts = [f for f in range(len(top)) if codec.is_pitch(int(top[f]))]
    for a in starts:
        b = a + 1
        while b < len(top) and top[b] == codec.hold:
            b += 1
        if b - a >= frames:
            out[a + 1:b] = True
    return out


def _voicing_mask(codec: GridCodec, voicing: Voicing, v: int, base: torch.Tensor,
                  current: np.ndarray, attacked: np.ndarray, before: np.ndarray,
                  sounding: np.ndarray, pitches: np.ndarray,
                  hold_only: bool = False,
                  beat_before: np.ndarray | None = None) -> torch.Tensor:
    """``base`` ((rows, vocab) bool) narrowed to what ``voicing`` allows voice ``v`` now;
    a held note must pass the same rules as a new one. ``hold_only``: under a long held
    top note a sounding voice holds too. ``beat_before``: on a beat, the pitches of the beat
    before (no parallels from chord to chord). A row left with nothing drops the leap rule
    and the beat-to-beat parallels first, then all the rules."""
    ok = voicing.allowed(v, pitches, current, attacked, before, beat_before=beat_before)
    stuck = ~ok.any(axis=1)
    if stuck.any():
        ok[stuck] = voicing.allowed(v, pitches, current[stuck], attacked[stuck],
                                    before[stuck], leaps=False)
    mask = np.zeros(tuple(base.shape), dtype=bool)
    held = current[:, v]
    rows = np.flatnonzero(sounding & (held >= 0))
    mask[rows, codec.hold] = ok[rows, held[rows] - codec.config.lowest]
    if hold_only:
        ok[mask[:, codec.hold]] = False  # where it may hold, it holds
    mask[:, codec.pitch0:codec.pitch0 + len(pitches)] = ok
    mask[:, codec.rest] = voicing.may_rest(v, current)
    out = base & torch.from_numpy(mask)
    empty = ~out.any(dim=1)
    if empty.any():
        out[empty] = base[empty]
    return out


def bar_critic(engine: GridEngine, style: str, meter: tuple[int, int], mode: str,
               density_band: str | None = None):
    """``sample_bars``' ``bar_fault`` for music in C ``mode``: the critic's penalty of each
    row's window (the new bar and the one before), the key known rather than guessed from
    two bars, the final cadence asked of the last bar only. With several voices, a bar with
    fewer attacks than the rows' median is charged for the shortfall: rests and held notes
    commit no fault, and a choice by faults alone would thin a chorale out bar by bar (a
    tune's long note at a phrase end is not charged: one line has few faults to avoid). A bar
    of silence is charged as a bar with no attack (a tune that waits a whole bar to begin).
    Where a ``density_band`` is asked for, a row whose new bars so far are in another band
    is charged ``DENSITY_WEIGHT``: the choice by faults would otherwise drift from it. In a
    style of full chords (one with voicing rules) each beat without a third or sixth costs
    ``HOLLOW_WEIGHT``, each beat of a cluster ``CLUSTER_WEIGHT``, each lower-voice attack
    under a held top note (``voicing.moving_under_held``) ``HELD_WEIGHT``, and in minor each
    phrase end reached from v rather than V (``voicing.minor_cadences``)
    ``MINOR_CADENCE_WEIGHT``; each 6/4 chord on a beat ``SIX_FOUR_WEIGHT``, twice at a phrase
    end (``voicing.six_fours``), each run of a lower voice rocking between two pitches
    ``WOBBLE_WEIGHT`` (``voicing.wobbles``), and each long top note ending on anything but a
    plain triad ``PHRASE_END_WEIGHT`` (``voicing.phrase_end_chords``), each not reached by
    a root moving a fifth ``CADENCE_WEIGHT`` (``voicing.cadences``), each beat of two pitch
    classes or fewer ``THIN_WEIGHT`` (``voicing.thin_beats``), each chord seventh that does
    not step down ``SEVENTH_WEIGHT`` (``voicing.sevenths``), each lower-voice restrike of
    the same pitch beyond Bach's 15% of moves ``RESTRIKE_WEIGHT`` (``voicing.restrikes``)."""
    codec = engine.codec
    F = bar_frames(style, meter)
    beats_per_bar = meter[0] * 4 / meter[1]
    top = codec.pitch_id(codec.config.highest)
    chords = style in voicing_rules.STYLE_VOICING

    def fault(window: np.ndarray, bar: int, last: bool,
              so_far: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros(len(window))
        n_bars = max(1, window.shape[1] // F)
        for r, frames in enumerate(window):
            piece = codec.voices_to_piece(frames, style, meter)
            out[r] = penalty(critique(piece, key=(0, mode), bars=n_bars), n_bars, ends=last)
            if chords:
                hollow, cluster, _ = voicing_rules.chord_faults(piece)
                six_four = sum(voicing_rules.six_fours(piece))
                ends, plain = voicing_rules.phrase_end_chords(piece)
                reached, by_fifth = voicing_rules.cadences(piece)
                out[r] += (HOLLOW_WEIGHT * hollow + CLUSTER_WEIGHT * cluster
                           + HELD_WEIGHT * voicing_rules.moving_under_held(piece)
                           + SIX_FOUR_WEIGHT * six_four
                           + WOBBLE_WEIGHT * voicing_rules.wobbles(piece)
                           + PHRASE_END_WEIGHT * (ends - plain)
                           + CADENCE_WEIGHT * (reached - by_fifth)
                           + THIN_WEIGHT * voicing_rules.thin_beats(piece)[1]
                           + SEVENTH_WEIGHT * voicing_rules.sevenths(piece)[1]
                           + RESTRIKE_WEIGHT * _excess_restrikes(piece)) / n_bars
                if mode == "minor":
                    out[r] += (MINOR_CADENCE_WEIGHT * voicing_rules.minor_cadences(piece)[0]
                               / n_bars)
        last_bar = window[:, -F:]
        attacks = ((last_bar >= codec.pitch0) & (last_bar <= top)).sum(axis=(1, 2))
        median = float(np.median(attacks))
        if window.shape[2] > 1:
            out += SHORTFALL_WEIGHT * np.clip(median - attacks, 0, None) / max(median, 1.0)
        out += SHORTFALL_WEIGHT * (last_bar == codec.rest).all(axis=(1, 2))  # a silent bar
        if density_band and so_far is not None:
            n_attacks = ((so_far >= codec.pitch0) & (so_far <= top)).sum(axis=(1, 2))
            beats = so_far.shape[1] / F * beats_per_bar
            out += DENSITY_WEIGHT * np.array(
                [schema.density_band(a / beats, style) != density_band for a in n_attacks])
        return out

    return fault


def _excess_restrikes(piece) -> float:
    """Restrikes in the lower voices beyond Bach's share of their moves."""
    moves, again = voicing_rules.restrikes(piece)
    return max(0.0, again - voicing_rules.BACH_RESTRIKES * moves)


# -- choosing among candidates ----------------------------------------------------------------
# accidentals in the key signature of a major key by its tonic's pitch class (C, Db, D, ...)
_MAJOR_ACCIDENTALS = [0, 5, 2, 3, 4, 1, 6, 1, 4, 3, 2, 5]


def key_accidentals(tonic_pc: int, mode: str) -> int:
    """Sharps or flats in the signature of a key (a minor key shares its relative major's)."""
    return _MAJOR_ACCIDENTALS[(tonic_pc + (3 if mode == "minor" else 0)) % 12]


def choose_transpose(piece_in_c: Piece, style: str, register_band: str | None,
                     mode: str = "major") -> int:
    """Semitones to move a result written in C: one whose mean pitch falls in the requested
    register band within the style (``schema.band_interval(..., style)``: the style's tertiles
    of mean pitch; within a tritone either way, an octave more for one-voice styles), and of
    those the key with the fewest accidentals, as a musician would write it; when no key
    reaches the band, the one nearest to it. In a style with voicing rules the voices' ranges
    come first: a key that would carry a note out of its voice's range is taken only when
    every key does."""
    pitches = [n.pitch for n in piece_in_c.all_notes()]
    if not pitches:
        return 0
    mean = float(np.mean(pitches))
    options = list(range(-6, 6))
    if STYLE_VOICES[style] == 1:
        options += [t + 12 for t in options] + [t - 12 for t in options]
    band = register_band and schema.band_interval("register_band", register_band, style)
    rules = voicing_rules.STYLE_VOICING.get(style)
    lines = voice_lines(piece_in_c) if rules else []

    def miss(t: int) -> float:
        if not band:
            return 0.0
        m = mean + t
        return max(0.0, band[0] - m, m - band[1] + 1e-6)

    def outside(t: int) -> int:
        if not rules or len(lines) != len(rules.ranges):
            return 0
        return sum(not lo <= n.pitch + t <= hi
                   for line, (lo, hi) in zip(lines, rules.ranges, strict=True) for n in line)

    return min(options, key=lambda t: (outside(t), miss(t) > 0, miss(t),
                                       key_accidentals(t % 12, mode), abs(t)))


def _key_name(tonic: int, mode: str) -> str:
    return f"{PITCH_NAMES[tonic % 12]} {mode}"


def _score(c, logp: float, bars: int, measured: dict, wanted: dict, ends: bool = True
           ) -> float:
    misses = sum(measured.get(k) != wanted.get(k) for k in ("mode", "density_band")
                 if wanted.get(k))
    return logp - CRITIC_WEIGHT * penalty(c, bars, ends=ends) - 3.0 * misses


def _opening(plan: dict[int, int], bars: int, lead_in: int = 0) -> dict[int, int]:
    """The repeats of a form plan that fall inside its first ``bars`` bars; after a pickup
    (``lead_in`` > 0) none copies the first bar, its silence and all."""
    return {b: a for b, a in plan.items() if b < bars and not (lead_in and a == 0)}


def _bands(attributes: dict | None) -> dict:
    """The requested bands, defaults where unset; a value the schema does not know is a
    ValueError (the callers' "bad input"), as in v1."""
    bands = _v1_bands(attributes, DEFAULT_ATTRIBUTES)  # the one rule, shared with v1
    for key in ("mode", "density_band", "register_band"):
        allowed = schema.band_names(key)
        if bands[key] not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}")
    return bands


def _meter_for(style: str, meter: tuple[int, int] | None, seed: int) -> tuple[int, int]:
    if meter is not None:
        meter = (int(meter[0]), int(meter[1]))
        if meter not in STYLE_METERS[style]:
            allowed = ", ".join(f"{n}/{d}" for n, d in STYLE_METERS[style])
            raise ValueError(f"{style} is written in {allowed}, not {meter[0]}/{meter[1]}")
        return meter
    # the style's two most common meters, alternating with the seed
    options = STYLE_METERS[style][:2]
    return options[seed % len(options)]


def compose(attributes: dict, style: str, bars: int = 8, temperature: float = 1.0,
            top_p: float = 0.95, seed: int | None = None, variants: int = 1,
            tempo_bpm: float | None = None, meter: tuple[int, int] | None = None,
            model: GridEngine | None = None, candidates: int = DEFAULT_CANDIDATES,
            dynamics: str | None = None, groups: int = DEFAULT_GROUPS,
            piece_bars: int | None = None, **_ignored) -> list[GeneratedPiece]:
    """``variants`` compositions of exactly ``bars`` bars (see the module's promises).
    ``piece_bars``: the length of the whole piece these bars open, when it is longer (the
    model counts down to that end and writes no ending here: the opening of a longer piece,
    as the listening test and the evaluation compare it with real openings); by default the
    bars are the whole piece and it ends with them."""
    engine = model or load_default_model()
    if style not in STYLE_VOICES:
        raise ValueError(f"unknown style {style!r}; one of {', '.join(STYLE_VOICES)}")
    if bars < 1:
        raise ValueError("bars must be at least 1")
    bands = _bands(attributes)
    total = max(bars, int(piece_bars or 0))
    out = []
    for i, s in enumerate(_seeds(seed, variants)):
        m = _meter_for(style, meter, s)
        prefix = engine.codec.prefix(style, m, bands["mode"], bands["density_band"])
        cand_seeds = [s * 1000 + c for c in range(max(1, candidates))]
        lead_in = form.draw_lead_in(style, m, s) if FORM else 0
        with engine.lock:
            samples = sample_bars(engine, prefix, np.zeros((0, STYLE_VOICES[style]), np.int64),
                                  style, m, total, bars, cand_seeds, temperature, top_p,
                                  bar_fault=bar_critic(engine, style, m, bands["mode"],
                                                       bands["density_band"])
                                  if groups else None, groups=groups or 1,
                                  voicing=voicing_rules.for_style(style) if VOICING else None,
                                  repeats=_opening(form.draw(style, total, s), bars, lead_in)
                                  if FORM else None, lead_in=lead_in)
        best = None
        for smp in samples:
            piece_c = engine.codec.voices_to_piece(smp.frames, style, m,
                                                   programs=STYLE_PROGRAMS[style])
            t = choose_transpose(piece_c, style, bands["register_band"], bands["mode"])
            piece = engine.codec.voices_to_piece(
                smp.frames, style, m, transpose=t, programs=STYLE_PROGRAMS[style],
                key=_key_name(t, bands["mode"]))
            c = critique(piece)
            measured = measure_attributes(piece, style)
            score = _score(c, smp.logp, bars, measured, bands, ends=total == bars)
            # a bar of silence in every voice: the piece falls short of its bars (the critic
            # counts faults in what sounds, and silence has none)
            silent = (smp.frames.reshape(bars, -1) == engine.codec.rest).all(axis=1).sum()
            score -= SILENT_BAR_WEIGHT * float(silent)
            if best is None or score > best[0]:
                best = (score, piece)
        piece = best[1]
        if style in voicing_rules.STYLE_VOICING and total == bars:
            piece = hold_final_chord(piece, bars * piece.bar_beats)
        if tempo_bpm:
            piece = piece.with_tempo(float(tempo_bpm))
        piece = _with_dynamics(piece, dynamics, 80)
        out.append(GeneratedPiece(piece=piece, seed=s, variant=i + 1,
                                  model_version=engine.version, style=style,
                                  attributes=bands, new_bars=bars))
    return out


def hold_final_chord(piece: Piece, end: float) -> Piece:
    """The notes sounding as the piece's music stops held to ``end`` (the last bar line): a
    chorale's final chord is held, not cut off before a bar of rests (a judge: "ends with a
    rest in all four voices, which a real chorale would not have")."""
    import dataclasses

    notes = [n for part in piece.parts for n in part.notes]
    final = max((n.onset + n.duration for n in notes), default=end)
    if final >= end - 1e-9:
        return piece
    parts = [dataclasses.replace(part, notes=[
        dataclasses.replace(n, duration=end - n.onset) if n.onset + n.duration >= final - 1e-9
        else n for n in part.notes]) for part in piece.parts]
    return dataclasses.replace(piece, parts=parts)


# -- continuation ----------------------------------------------------------------------------
def _seed_style(engine: GridEngine, lines: list, meter: tuple[int, int],
                style: str | None) -> str:
    if style:
        if style not in STYLE_VOICES:
            raise ValueError(f"unknown style {style!r}; one of {', '.join(STYLE_VOICES)}")
        return style
    many = len(lines) >= 2
    options = [s for s, v in STYLE_VOICES.items() if (v > 1) == many]
    fitting = [s for s in options if meter in STYLE_METERS[s]]
    return (fitting or options)[0]


def _fits(style: str, meter: tuple[int, int]) -> bool:
    try:
        bar_frames(style, meter)
        return True
    except ValueError:
        return False


def continue_piece(seed_piece: Piece, bars: int = 8, temperature: float = 1.0,
                   top_p: float = 0.95, seed: int | None = None, variants: int = 1,
                   style: str | None = None, attributes: dict | None = None,
                   model: GridEngine | None = None, candidates: int = DEFAULT_CANDIDATES,
                   piece_bars: int | None = None, groups: int = DEFAULT_GROUPS,
                   **_ignored) -> list[GeneratedPiece]:
    """The seed verbatim plus exactly ``bars`` new bars (see the module's promises).
    ``piece_bars``: the length of the whole piece the new bars belong to, when it goes on
    after them (default: it ends with them, and the model writes its ending there)."""
    engine = model or load_default_model()
    codec = engine.codec
    lines = voice_lines(seed_piece)
    if not lines:
        raise ValueError("the seed has no pitched notes to continue")
    if bars < 1:
        raise ValueError("bars must be at least 1")
    meter = seed_piece.time_signature
    style = _seed_style(engine, lines, meter, style)
    if not _fits(style, meter):
        raise ValueError(f"a seed in {meter[0]}/{meter[1]} cannot be continued as {style}")
    V = STYLE_VOICES[style]
    F = bar_frames(style, meter)
    step = STYLE_GRID[style]
    key = seed_piece.key if seed_piece.key else estimate_key(seed_piece)
    transpose = shift_to_c(key)
    measured = measure_attributes(seed_piece, style)
    bands = _bands({"mode": measured.get("mode"), "density_band": measured.get("density_band"),
                    **{k: v for k, v in (attributes or {}).items() if v}})
    if V == 1:
        chosen = [lines[0]]
    else:
        idx = [0, *[min(i, len(lines) - 1) for i in range(1, V - 1)], len(lines) - 1]
        chosen = [lines[i] if i < len(lines) else [] for i in idx]
        if len(lines) < V:  # fewer lines than voices: top and bottom, inner voices rest
            chosen = [lines[0]] + [[] for _ in range(V - 2)] + [lines[-1]]
    bar_beats = seed_piece.bar_beats
    boundary = math.ceil(seed_piece.end_beat / bar_beats - 1e-9) * bar_beats
    seed_bars = int(round(boundary / bar_beats))
    context = lines_to_frames(chosen, seed_bars * F, step, 0, transpose, codec)
    meter_ok = meter in STYLE_METERS[style]
    prefix_meter = meter if meter_ok else STYLE_METERS[style][0]
    prefix = codec.prefix(style, prefix_meter, bands["mode"], bands["density_band"])
    # a meter the style's prefix does not know keeps the seed's bar length through the
    # frames; the prefix names the style's nearest usual meter
    out = []
    programs = [p.program for p in seed_piece.parts if not p.is_drum] or [0]
    for i, s in enumerate(_seeds(seed, variants)):
        cand_seeds = [s * 1000 + c for c in range(max(1, candidates))]
        with engine.lock:
            total = max(seed_bars + bars, piece_bars or 0)
            plan = form.draw(style, total, s) if FORM else {}
            repeats = {b - seed_bars: a - seed_bars for b, a in plan.items()
                       if seed_bars <= b < seed_bars + bars}
            samples = sample_bars(engine, prefix, context, style, meter, total,
                                  bars, cand_seeds, temperature, top_p, repeats=repeats,
                                  bar_fault=bar_critic(engine, style, meter, bands["mode"],
                                                       bands["density_band"])
                                  if groups else None, groups=groups or 1,
                                  voicing=voicing_rules.for_style(style, transpose)
                                  if VOICING else None)
        best = None
        for smp in samples:
            new_piece = codec.voices_to_piece(smp.frames, style, meter, transpose=-transpose,
                                              programs=programs, start_beat=boundary)
            whole = _merge(seed_piece, new_piece)
            c = critique(whole)
            score = smp.logp - CRITIC_WEIGHT * penalty(c, seed_bars + bars,
                                                        ends=total == seed_bars + bars)
            if best is None or score > best[0]:
                best = (score, whole)
        out.append(GeneratedPiece(piece=best[1], seed=s, variant=i + 1,
                                  model_version=engine.version, style=style,
                                  attributes=bands, boundary_beat=boundary, new_bars=bars))
    return out


def _merge(seed_piece: Piece, new_piece: Piece) -> Piece:
    """The seed's parts with the new voices' notes appended: voice v goes to the part that
    holds the seed's v-th line from the top (the last line for the bass)."""
    parts = [Part(notes=list(p.notes), program=p.program, is_drum=p.is_drum, name=p.name)
             for p in seed_piece.parts]
    order = line_order(seed_piece)
    V = len(new_piece.parts)
    for v, part in enumerate(new_piece.parts):
        if V == 1:
            target = order[0]
        elif v == V - 1:
            target = order[-1]
        else:
            target = order[min(v, len(order) - 1)]
        notes: list[Note] = list(part.notes)
        parts[target].notes.extend(notes)
        parts[target].notes.sort()
    return Piece(parts=parts, tempos=list(seed_piece.tempos),
                 time_signatures=list(seed_piece.time_signatures), key=seed_piece.key,
                 title=seed_piece.title)
