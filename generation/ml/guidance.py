"""Attribute guidance at decoding time: a feedback bias on the logits that keeps a row's
running onset density and mean pitch inside the requested bands.

Why: the control prefix steers the model, but only as far as the training data went. The
bands are global (tertiles over all styles), so some requests lie outside what a style ever
did: no chorale in the corpus is "sparse" (four voices give > 2 onsets a beat), no
Renaissance piece sits in the "high" register. Reranking sampled candidates cannot find what
none of them contains. The guide watches what a row has written so far and, only while the
running figure lies outside the requested band, nudges the next choice toward it:

- density (onsets per quarter beat, all voices, as ``attributes.density`` measures it):
  every token gets a "density feature" — a Pitch or Track token adds a note at the current
  position (+1), a Pos token skips ahead ``gap`` quarters (-log2(1 + gap)), a Bar token skips
  the rest of the bar (the same with the rest); durations are left to the model (biasing them
  gave one-step blips and twelve-beat drones) — and the bias is ``strength * error * feature`` with ``error`` =
  log(edge / running density) in units of ``_DENSITY_UNIT``, clipped (positive when the row
  is too sparse, negative when too dense, 0 inside the band). An open band gets a far end
  (``_DENSITY_OPEN_SPAN``): "sparse" is not silence.
- register (mean MIDI pitch): Pitch tokens get ``strength * error * (pitch - mean) / 12``
  with ``error`` the distance of the running mean from the band in units of
  ``_REGISTER_UNIT`` semitones, clipped.

- mode (major/minor, measured by Krumhansl-Schmuckler key profiles on the sounding time of
  each pitch class): once a row has a few notes and the other mode fits them as well as the
  requested one, Pitch tokens get ``strength * z`` with ``z`` the requested mode's profile
  (z-scored) at the tonic that fits the row best, so the row settles in a key of that mode.

The running figures start from a prior at the band's centre worth ``PRIOR_BEATS`` beats, so
the first notes are not pushed around by a one-note estimate. Inside the band the guide adds
nothing, and a row that already matches is sampled exactly as without it. Each row's bias
depends only on that row's own tokens, so seeded results stay independent of the batch.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import torch

from generation.music import key as keys
from generation.music import schema
from generation.music.tokenizer import Grammar, Tokenizer

PRIOR_BEATS = 2.0
# Open-ended bands get a working centre this far past their one edge (density: a factor,
# register: semitones).
_DENSITY_PAST_EDGE = 1.3
_REGISTER_PAST_EDGE = 3.0
_DENSITY_FLOOR = 0.05
# Mode: guided once a row has this many notes, while the requested mode does not lead the
# other by this much correlation (Krumhansl-Schmuckler, as ``key.estimate_mode`` measures).
MODE_MIN_NOTES = 3
MODE_LEAD = 0.05


# [mode (major, minor), tonic, pitch class]: every key's profile, z-scored (the rows of
# ``key.KEY_PROFILES``, which are centred and of unit length, times sqrt(12))
_KEY_PROFILES_Z = keys.KEY_PROFILES.reshape(12, 2, 12).transpose(1, 0, 2) * math.sqrt(12)
# The guide aims this far inside a band's edges (density: a factor, register: semitones), so
# that a row held at the edge does not slip out of the band in its last notes.
_DENSITY_MARGIN = 1.1
_REGISTER_MARGIN = 0.75
# An error of this size (log density ratio / semitones) counts as 1; errors clip at +-_CLIP.
_DENSITY_UNIT = 0.04
_REGISTER_UNIT = 2.0
_CLIP = 3.0
# Skips longer than this many quarters count as this long: thinning a texture should take
# notes out of chords and runs, not leave whole beats or bars empty.
_GAP_CAP = 1.0
# How far an open-ended band reaches for the guide (density: a factor, register: semitones).
_DENSITY_OPEN_SPAN = 2.5
_REGISTER_OPEN_SPAN = 12.0


@dataclass(frozen=True)
class GuideTarget:
    """What to hold a row to: a density band and a register band (either may be None), as
    (low, high) with ``math.inf`` / ``0`` for an open end, and the bias strengths."""

    density: tuple[float, float] | None = None
    register: tuple[float, float] | None = None
    density_strength: float = 3.0
    register_strength: float = 3.0
    mode: str | None = None  # "major" / "minor"
    mode_strength: float = 1.0

    @classmethod
    def for_bands(cls, density_band: str | None, register_band: str | None,
                  density_strength: float = 3.0, register_strength: float = 3.0,
                  mode: str | None = None, mode_strength: float = 1.0) -> GuideTarget:
        """The target for named bands, with the schema's frozen edges."""
        if mode not in (None, "major", "minor"):
            raise ValueError(f"unknown mode {mode!r}")
        return cls(_interval("density_band", density_band),
                   _interval("register_band", register_band),
                   density_strength, register_strength, mode, mode_strength)


def _interval(attr: str, band: str | None) -> tuple[float, float] | None:
    return None if band is None else schema.band_interval(attr, band)


def _density_centre(lo: float, hi: float) -> float:
    if math.isinf(hi):
        return lo * _DENSITY_PAST_EDGE
    if lo <= 0:
        return hi / _DENSITY_PAST_EDGE
    return math.sqrt(lo * hi)


def _register_centre(lo: float, hi: float) -> float:
    if math.isinf(hi):
        return lo + _REGISTER_PAST_EDGE
    if lo <= 0:
        return hi - _REGISTER_PAST_EDGE
    return (lo + hi) / 2


class _Features:
    """Per-tokenizer constant vectors (computed once per tokenizer)."""

    def __init__(self, tok: Tokenizer):
        v = tok.vocab_size
        self.pitch_lo, self.pitch_hi = tok.ranges["Pitch"]
        self.pos_lo, self.pos_hi = tok.ranges["Pos"]
        self.note = torch.zeros(v, dtype=torch.float64)  # +1 for tokens that add a note now
        self.note[self.pitch_lo:self.pitch_hi] = 1.0
        a, b = tok.ranges["Track"]
        self.note[a:b] = 1.0
        self.pitch = torch.zeros(v, dtype=torch.float64)  # MIDI pitch of Pitch tokens
        self.pitch[self.pitch_lo:self.pitch_hi] = torch.arange(
            self.pitch_hi - self.pitch_lo, dtype=torch.float64) + tok.config.pitch_low
        self.is_pitch = torch.zeros(v, dtype=torch.float64)  # 1.0 on Pitch tokens
        self.is_pitch[self.pitch_lo:self.pitch_hi] = 1.0
        # pitch class of each Pitch token, in token order
        self.pitch_classes = (self.pitch[self.pitch_lo:self.pitch_hi].long() % 12)
        self.pos_steps = torch.arange(self.pos_hi - self.pos_lo, dtype=torch.float64)


# per tokenizer object, forgotten with it (an id() key could be reused by a later one)
_FEATURES: weakref.WeakKeyDictionary[Tokenizer, _Features] = weakref.WeakKeyDictionary()


def _features(tok: Tokenizer) -> _Features:
    f = _FEATURES.get(tok)
    if f is None or f.note.shape[0] != tok.vocab_size:
        f = _FEATURES[tok] = _Features(tok)
    return f


class RowGuide:
    """The running figures of one row and the bias they call for."""

    def __init__(self, tok: Tokenizer, target: GuideTarget):
        self.tok, self.target, self.f = tok, target, _features(tok)
        self.notes = 0
        self.pitch_sum = 0.0
        self.bar_start = None  # absolute step of the current bar line (None before the first)
        self.bar_steps = 0
        self.step = None  # absolute step of the current position
        self.first = None  # absolute step of the first note
        self.last_end = None  # latest note-off so far (absolute step)
        self.pc_time = np.zeros(12)  # sounding time per pitch class (for the mode)
        self._last_pitch = None
        self._mode_vec = None  # the mode's bias, recomputed only when pc_time changes

    def feed(self, token: int, grammar: Grammar) -> None:
        """Account for ``token``; ``grammar`` has already been fed it."""
        kind = self.tok.kind(token)
        if kind == "Bar":
            self.bar_start = 0 if self.bar_start is None else self.bar_start + self.bar_steps
            self.bar_steps = grammar.bar_steps
            self.step = self.bar_start
        elif kind == "TimeSig":
            self.bar_steps = grammar.bar_steps
        elif kind == "Pos" and self.bar_start is not None:
            self.step = self.bar_start + grammar.pos
        elif kind == "Pitch" and self.step is not None:
            self.notes += 1
            self._last_pitch = grammar.pitch + self.tok.config.pitch_low
            self.pitch_sum += self._last_pitch
            if self.first is None:
                self.first = self.step
        elif kind == "Dur" and self.step is not None:
            steps = self.tok.config.duration_steps[self.tok.offset(token)]
            end = self.step + steps
            if self._last_pitch is not None:
                self.pc_time[self._last_pitch % 12] += steps
                if self.target.mode is not None:
                    self._mode_vec = self._mode_bias()
            self.last_end = end if self.last_end is None else max(self.last_end, end)

    def _density_error(self) -> float:
        lo, hi = self.target.density
        centre = _density_centre(lo, hi)
        # an open band still has a sensible far end: "sparse" is not silence
        lo = max(lo, hi / _DENSITY_OPEN_SPAN) if lo <= 0 else lo
        hi = min(hi, lo * _DENSITY_OPEN_SPAN)
        if self.first is None or self.step is None:
            span = 0.0
        else:
            # notes still sounding count up to the end of the current bar only: the last bar's
            # long notes end with the piece, so counting them further would flatter the row
            held = min(self.last_end or self.step, self.bar_start + self.bar_steps)
            span = max(self.step, held) - self.first
        beats = span / self.tok.q
        est = (self.notes + PRIOR_BEATS * centre) / (beats + PRIOR_BEATS)
        est = max(est, _DENSITY_FLOOR)
        lo, hi = lo * _DENSITY_MARGIN, hi / _DENSITY_MARGIN
        if est < lo:
            err = math.log(lo / est)
        elif est > hi:
            err = math.log(hi / est)
        else:
            return 0.0
        return max(-_CLIP, min(_CLIP, err / _DENSITY_UNIT))

    def _register_error(self) -> tuple[float, float]:
        lo, hi = self.target.register
        centre = _register_centre(lo, hi)
        lo = max(lo, hi - _REGISTER_OPEN_SPAN) if lo <= 0 else lo
        hi = min(hi, lo + _REGISTER_OPEN_SPAN)
        mean = (self.pitch_sum + PRIOR_BEATS * centre) / (self.notes + PRIOR_BEATS)
        lo, hi = lo + _REGISTER_MARGIN, hi - _REGISTER_MARGIN
        if mean < lo:
            err = (lo - mean) / _REGISTER_UNIT
        elif mean > hi:
            err = (hi - mean) / _REGISTER_UNIT
        else:
            err = 0.0
        return max(-_CLIP, min(_CLIP, err)), mean

    def bias(self, grammar: Grammar) -> torch.Tensor | None:
        """A logit bias for the next token (float64, vocab-sized), or None for none."""
        if self.bar_start is None or grammar.state in ("start", "end", "header") \
                or grammar.state.startswith("prefix"):
            return None
        out = None
        t = self.target
        if t.density is not None:
            err = self._density_error()
            if err:
                feat = self.f.note.clone()
                # skipping ahead: a Pos token `gap` quarters on, or the bar line (rest of bar)
                here = max(grammar.pos, 0)
                steps = self.f.pos_steps
                bar_line = float(grammar.bar_steps)
                if err < 0:
                    # thinning: a skip earns credit only while earlier notes still sound, so
                    # the row drops chord notes and holds notes rather than falling silent
                    held = -1 if self.last_end is None else self.last_end - self.bar_start
                    steps = steps.clamp(max=float(max(held, here)))
                    bar_line = min(bar_line, float(max(held, here)))
                gaps = ((steps - here) / self.tok.q).clamp(min=0, max=_GAP_CAP)
                feat[self.f.pos_lo:self.f.pos_hi] = -torch.log2(1 + gaps)
                rest = max(0.0, min((bar_line - here) / self.tok.q, _GAP_CAP))
                feat[self.tok.bar] = -math.log2(1 + rest)  # the Bar token skips to the bar line
                out = t.density_strength * err * feat
        if t.register is not None:
            err, mean = self._register_error()
            if err:
                reg = (t.register_strength * err / 12.0) * (self.f.pitch - mean) * self.f.is_pitch
                out = reg if out is None else out + reg
        if self._mode_vec is not None and self.notes >= MODE_MIN_NOTES \
                and grammar.state in ("pos", "track", "dur"):
            out = self._mode_vec if out is None else out + self._mode_vec
        return out

    def _mode_bias(self) -> torch.Tensor | None:
        """The mode's logit bias: on Pitch tokens, ``mode_strength`` times the requested
        mode's key profile (z-scored) at the tonic that suits the notes so far best, while
        the other mode fits them as well or better; None while the requested mode leads by
        ``MODE_LEAD`` (or the notes so far have no shape)."""
        hist = self.pc_time
        if hist.sum() <= 0 or np.ptp(hist) == 0:
            return None
        scores = keys.key_correlations(hist[None])[0].reshape(12, 2).T  # [mode, tonic]
        want = 0 if self.target.mode == "major" else 1
        best_want = int(np.argmax(scores[want]))
        if scores[want, best_want] - scores[1 - want].max() >= MODE_LEAD:
            return None
        profile = torch.from_numpy(_KEY_PROFILES_Z[want, best_want].copy())
        vec = torch.zeros(self.tok.vocab_size, dtype=torch.float64)
        vec[self.f.pitch_lo:self.f.pitch_hi] = self.target.mode_strength * profile[
            self.f.pitch_classes]
        return vec
