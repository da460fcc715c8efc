"""The v2 representation: voices on a time grid, frame by frame (after BachBot and DeepBach).

Why a second representation beside ``tokenizer.py``: the v1 event stream lets any note start
in any part at any moment, so a model can drop a voice mid-phrase, stack clusters, or write
overlapping notes inside one line, and it has to learn the meter from scratch. Here every
style has a fixed number of voices (a chorale or a motet is four lines from the first bar to
the last, a folk tune one), every frame of the grid carries exactly one token per voice
(a new note, a held note or a rest), and the bar is a fixed number of frames for the meter,
so a line can never fall apart and a bar can never be overfull. The grammar is fixed by the
prefix, so constrained decoding is a simple table (``allowed``) rather than a state machine.

A sequence reads::

    Style_s Meter_n/d Mode_m Density_d  ( Bar_r ( v_1 v_2 .. v_V ){frames per bar} )+  End

- Pitches are written relative to the piece's tonic: every piece is moved so that its tonic
  is C (within a tritone of where it was), so the mode token means the same scale degrees in
  every piece and the model learns one set of cadences instead of twelve. The key of a result
  is chosen at decode time (``transpose_for_register``), which also sets the register band.
- ``Bar_r`` counts the bars left, this one included (``Bar_1`` is the last bar), so the model
  knows where the phrase and the piece end and writes its cadence there; ``r`` above
  ``max_countdown`` is written as ``Bar_many``.
- The grid step is per style (``STYLE_GRID``): a sixteenth for chorales and tunes, an eighth
  for the half-note pulse of Renaissance polyphony.
- A pickup is a pickup: the piece is shifted so that its strong beats fall on the bar's
  strong beats (``pickup_shift``), and the first bar begins with rests.
- Only meters a style really uses are allowed (``STYLE_METERS``), so a composition never
  comes out in 1/8 or 1/16.

Pure Python and numpy; no Django, no torch.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from generation.music.notes import Note, Part, Piece

# -- facts of each style (one source: the v2 codec, its model and the composer read these) --
# voices a style is written in (top to bottom)
STYLE_VOICES: dict[str, int] = {"chorale": 4, "renaissance": 4, "german_folk": 1,
                                "chinese_folk": 1, "celtic": 1}
# grid step in quarter-note beats
STYLE_GRID: dict[str, Fraction] = {"chorale": Fraction(1, 4), "renaissance": Fraction(1, 2),
                                   "german_folk": Fraction(1, 4),
                                   "chinese_folk": Fraction(1, 4), "celtic": Fraction(1, 4)}
# meters each style uses (each is at least ~2% of the style's pieces in the corpus), most
# common first: the first is the default when a request leaves the meter open
STYLE_METERS: dict[str, list[tuple[int, int]]] = {
    "chorale": [(4, 4), (3, 4)],
    "renaissance": [(4, 2), (4, 4), (3, 2)],
    "german_folk": [(4, 4), (2, 4), (3, 4), (6, 8), (3, 8), (4, 2), (6, 4), (3, 2)],
    "chinese_folk": [(2, 4), (4, 4), (3, 4)],
    "celtic": [(6, 8), (2, 2), (2, 4), (4, 4), (3, 4), (9, 8)],
}
MAX_VOICES = 4
MAX_FRAMES = 32  # frames in the longest bar (4/2 on sixteenths)
LOWEST, HIGHEST = 21, 108  # piano range: the pitch tokens
MODES = ("major", "minor")
DENSITY_BANDS = ("sparse", "moderate", "dense")
PITCH_NAMES = ["C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B"]


def bar_frames(style: str, meter: tuple[int, int]) -> int:
    """Frames in one bar of ``meter`` on the style's grid."""
    beats = Fraction(4 * meter[0], meter[1])
    frames = beats / STYLE_GRID[style]
    if frames.denominator != 1 or frames > MAX_FRAMES:
        raise ValueError(f"{meter[0]}/{meter[1]} does not fit the {style} grid")
    return int(frames)


def tonic_pc(key: str | None) -> int:
    """Pitch class of a key's tonic ("E- major" -> 3, "f# minor" -> 6); 0 when unknown."""
    if not key:
        return 0
    name = key.split()[0]
    letter = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}.get(name[:1].upper())
    if letter is None:
        return 0
    for ch in name[1:]:
        letter += {"#": 1, "-": -1, "b": -1}.get(ch, 0)
    return letter % 12


def shift_to_c(key: str | None) -> int:
    """Semitones that move the key's tonic to C by the shorter way (-6..+5)."""
    pc = tonic_pc(key)
    return -pc if pc <= 6 else 12 - pc


@dataclass
class GridConfig:
    """The vocabulary. Saved as JSON beside the checkpoint; equal configs give equal ids."""

    styles: list[str] = field(default_factory=lambda: list(STYLE_VOICES))
    meters: list[list[int]] = field(default_factory=lambda: [list(m) for m in sorted(
        {(n, d) for ms in STYLE_METERS.values() for n, d in ms}, key=lambda m: (m[1], m[0]))])
    max_countdown: int = 32
    lowest: int = LOWEST
    highest: int = HIGHEST
    # per style, per voice: the (lowest, highest) pitch seen in training after moving to C
    ranges: dict[str, list[list[int]]] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> GridConfig:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


class GridCodec:
    """Token ids <-> names, and Piece <-> token sequences."""

    def __init__(self, config: GridConfig | None = None):
        self.config = config or GridConfig()
        c = self.config
        names = ["PAD", "End", "Hold", "Rest"]
        names += [f"Style_{s}" for s in c.styles]
        names += [f"Meter_{n}/{d}" for n, d in c.meters]
        names += [f"Mode_{m}" for m in MODES]
        names += [f"Density_{b}" for b in DENSITY_BANDS]
        names += [f"Bar_{r}" for r in range(1, c.max_countdown + 1)] + ["Bar_many"]
        names += [f"Pitch_{p}" for p in range(c.lowest, c.highest + 1)]
        self.names = names
        self.ids = {n: i for i, n in enumerate(names)}
        self.pad, self.end = self.ids["PAD"], self.ids["End"]
        self.hold, self.rest = self.ids["Hold"], self.ids["Rest"]
        self.pitch0 = self.ids[f"Pitch_{c.lowest}"]
        self.bar_ids = np.array([self.ids[f"Bar_{r}"] for r in range(1, c.max_countdown + 1)]
                                + [self.ids["Bar_many"]])

    @property
    def vocab_size(self) -> int:
        return len(self.names)

    # -- single tokens -----------------------------------------------------------------------
    def pitch_id(self, pitch: int) -> int:
        return self.pitch0 + min(max(pitch, self.config.lowest), self.config.highest) \
            - self.config.lowest

    def is_pitch(self, token: int) -> bool:
        return self.pitch0 <= token < self.pitch0 + self.config.highest - self.config.lowest + 1

    def sounds(self, tokens: np.ndarray) -> np.ndarray:
        """True where a grid token leaves its voice sounding (a new or a held note)."""
        t = np.asarray(tokens)
        return (t == self.hold) | ((t >= self.pitch0)
                                   & (t < self.pitch0 + self.config.highest
                                      - self.config.lowest + 1))

    def bar_id(self, remaining: int) -> int:
        return int(self.bar_ids[min(max(remaining, 1), len(self.bar_ids)) - 1])

    def prefix(self, style: str, meter: tuple[int, int], mode: str, density_band: str
               ) -> list[int]:
        if style not in self.config.styles:
            raise ValueError(f"unknown style {style!r}")
        if list(meter) not in self.config.meters or tuple(meter) not in STYLE_METERS[style]:
            allowed = ", ".join(f"{n}/{d}" for n, d in STYLE_METERS[style])
            raise ValueError(f"{style} is written in {allowed}, not {meter[0]}/{meter[1]}")
        return [self.ids[f"Style_{style}"], self.ids[f"Meter_{meter[0]}/{meter[1]}"],
                self.ids[f"Mode_{mode}"], self.ids[f"Density_{density_band}"]]

    def voice_range(self, style: str, voice: int) -> tuple[int, int]:
        r = self.config.ranges.get(style)
        if not r:
            return self.config.lowest, self.config.highest
        return int(r[voice][0]), int(r[voice][1])

    # -- whole sequences ---------------------------------------------------------------------
    def slots(self, style: str, meter: tuple[int, int], length: int) -> np.ndarray:
        """The slot of each position of a sequence that starts with the 4-token prefix:
        0 for prefix, bar and end tokens, else 1 + voice * MAX_FRAMES + frame."""
        V, F = STYLE_VOICES[style], bar_frames(style, meter)
        bar = np.concatenate([[0], 1 + (np.arange(V)[None, :] * MAX_FRAMES
                                        + np.arange(F)[:, None]).reshape(-1)])
        reps = math.ceil(max(length - 4, 0) / len(bar)) + 1
        return np.concatenate([np.zeros(4, dtype=np.int64), np.tile(bar, reps)])[:length]

    def encode_voices(self, frames: np.ndarray, style: str, meter: tuple[int, int],
                      mode: str, density_band: str, total_bars: int | None = None,
                      end: bool = True) -> list[int]:
        """(bars * F, V) array of grid tokens -> prefix, bars with countdown, End.
        ``total_bars``: the length the countdown counts towards (default: these bars)."""
        F = bar_frames(style, meter)
        n_bars = frames.shape[0] // F
        total = n_bars if total_bars is None else total_bars
        out = self.prefix(style, meter, mode, density_band)
        for b in range(n_bars):
            out.append(self.bar_id(total - b))
            out.extend(frames[b * F:(b + 1) * F].reshape(-1).tolist())
        if end:
            out.append(self.end)
        return out

    def frames_of(self, tokens: list[int], style: str, meter: tuple[int, int]) -> np.ndarray:
        """The grid tokens of a sequence (prefix, bar and End tokens dropped): (frames, V).
        A trailing incomplete bar is dropped."""
        V, F = STYLE_VOICES[style], bar_frames(style, meter)
        body = [t for t in tokens[4:] if t != self.end]
        per_bar = 1 + F * V
        n_bars = len(body) // per_bar
        rows = [body[b * per_bar + 1:(b + 1) * per_bar] for b in range(n_bars)]
        if not rows:
            return np.zeros((0, V), dtype=np.int64)
        return np.array(rows, dtype=np.int64).reshape(n_bars * F, V)

    def voices_to_piece(self, frames: np.ndarray, style: str, meter: tuple[int, int],
                        transpose: int = 0, programs: list[int] | None = None,
                        start_beat: float = 0.0, velocity: int = 80,
                        key: str | None = None) -> Piece:
        """Grid tokens (frames, V) -> a Piece with one part per voice."""
        step = float(STYLE_GRID[style])
        V = frames.shape[1]
        programs = programs or [0] * V
        parts = []
        for v in range(V):
            notes: list[Note] = []
            cur: list | None = None  # [onset_frame, pitch, length]
            for f, t in enumerate(frames[:, v].tolist()):
                if self.is_pitch(t):
                    if cur:
                        notes.append(self._note(cur, step, start_beat, transpose, velocity))
                    cur = [f, t - self.pitch0 + self.config.lowest, 1]
                elif t == self.hold and cur:
                    cur[2] += 1
                else:
                    if cur:
                        notes.append(self._note(cur, step, start_beat, transpose, velocity))
                    cur = None
            if cur:
                notes.append(self._note(cur, step, start_beat, transpose, velocity))
            parts.append(Part(notes=notes, program=programs[min(v, len(programs) - 1)],
                              name=_voice_name(style, v)))
        return Piece(parts=parts, time_signatures=[(0.0, meter[0], meter[1])], key=key)

    @staticmethod
    def _note(cur, step, start_beat, transpose, velocity) -> Note:
        return Note(start_beat + cur[0] * step, int(cur[1]) + transpose, cur[2] * step,
                    velocity)


def _voice_name(style: str, v: int) -> str:
    if STYLE_VOICES[style] == 4:
        return ("Soprano", "Alto", "Tenor", "Bass")[v]
    return {"german_folk": "Melody", "chinese_folk": "Melody", "celtic": "Fiddle"}[style]


# -- from notes to the grid ------------------------------------------------------------------
def line_order(piece: Piece) -> list[int]:
    """Indices of the pitched, non-empty parts, highest (by mean pitch) first: voice 1 is
    the top line. The one rule the codec, the critic, the continuation and infilling share."""
    idx = [i for i, p in enumerate(piece.parts) if p.notes and not p.is_drum]
    return sorted(idx, key=lambda i: -float(np.mean([n.pitch for n in piece.parts[i].notes])))


def voice_lines(piece: Piece) -> list[list[Note]]:
    """The pitched parts as lines (notes in time order), highest first (``line_order``)."""
    return [sorted(piece.parts[i].notes) for i in line_order(piece)]


def pickup_shift(lines: list[list[Note]], meter: tuple[int, int], step: Fraction) -> int:
    """Frames to delay the music by so that its strong beats fall on the bar's strong beats.

    Metrical salience: each note's duration counts 4 on the downbeat, 2 on the half bar (or
    the middle beat of a triple bar), 1 on any other beat, summed over all voices; the shift
    (0 .. bar-1 frames) with the most weight wins, no shift on a tie. A piece that starts
    with a one-beat pickup in 4/4 scores best shifted by three beats.
    """
    num, den = meter
    bar = int(Fraction(4 * num, den) / step)
    beat_beats = Fraction(3, 2) if den == 8 and num % 3 == 0 else Fraction(4, den)
    beat = max(1, int(beat_beats / step))
    weight = np.zeros(bar)
    for b in range(0, bar, beat):
        weight[b] = 1
    weight[0] = 4
    beats_in_bar = bar // beat
    if beats_in_bar % 2 == 0:
        weight[(beats_in_bar // 2) * beat] = 2
    onsets, durs = [], []
    for line in lines:
        for n in line:
            onsets.append(round(n.onset / float(step)))
            durs.append(n.duration)
    if not onsets:
        return 0
    onsets_a, durs_a = np.array(onsets), np.array(durs)
    scores = [float(np.sum(durs_a * weight[(onsets_a + s) % bar])) for s in range(bar)]
    best = int(np.argmax(scores))
    return 0 if scores[best] <= scores[0] + 1e-9 else best


def lines_to_frames(lines: list[list[Note]], n_frames: int, step: Fraction, shift: int,
                    transpose: int, codec: GridCodec, start_beat: float = 0.0) -> np.ndarray:
    """Lines -> (n_frames, len(lines)) grid tokens. Onsets round to the nearest frame, each
    note lasts at least one frame and ends where the next note of its line starts; when two
    notes of a line start on one frame, the higher is kept."""
    out = np.full((n_frames, len(lines)), codec.rest, dtype=np.int64)
    s = float(step)
    for v, line in enumerate(lines):
        starts: dict[int, tuple[int, int]] = {}
        for n in line:
            f0 = round((n.onset - start_beat) / s) + shift
            f1 = max(f0 + 1, round((n.onset + n.duration - start_beat) / s) + shift)
            if f0 < 0 or f0 >= n_frames:
                continue
            if f0 not in starts or n.pitch > starts[f0][0]:
                starts[f0] = (n.pitch, f1)
        order = sorted(starts)
        for i, f0 in enumerate(order):
            pitch, f1 = starts[f0]
            nxt = order[i + 1] if i + 1 < len(order) else n_frames
            f1 = min(f1, nxt, n_frames)
            out[f0, v] = codec.pitch_id(pitch + transpose)
            out[f0 + 1:f1, v] = codec.hold
    return out


def piece_to_grid(piece: Piece, style: str, meter: tuple[int, int], key: str | None,
                  codec: GridCodec, voices: list[int] | None = None,
                  align_pickup: bool = True) -> tuple[np.ndarray, int]:
    """A whole piece -> ((bars * F, V) grid tokens moved to C, transpose used).

    ``voices`` picks lines by index (highest first) when the piece has more than the style's
    voice count; by default the top, the bottom and the inner lines just below the top."""
    V = STYLE_VOICES[style]
    lines = voice_lines(piece)
    if len(lines) < V:
        raise ValueError(f"{style} needs {V} voices, the piece has {len(lines)}")
    if voices is None:
        voices = list(range(V - 1)) + [len(lines) - 1] if V > 1 else [0]
    lines = [lines[i] for i in voices]
    step = STYLE_GRID[style]
    F = bar_frames(style, meter)
    shift = pickup_shift(lines, meter, step) if align_pickup else 0
    end = max(n.onset + n.duration for line in lines for n in line)
    n_frames = round(end / float(step)) + shift
    n_bars = max(1, math.ceil(n_frames / F))
    transpose = shift_to_c(key)
    return lines_to_frames(lines, n_bars * F, step, shift, transpose, codec), transpose
