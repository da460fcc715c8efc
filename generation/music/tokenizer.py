"""Event tokens for the continuation Transformer: a small REMI-like vocabulary of our own.

Why not MidiTok: MidiTok 3.1's REMI reads and round-trips our pieces, but (1) its grammar is
implicit in its encoder, while constrained decoding needs an explicit, testable state machine
over token types; (2) odd meters (3/2, 6/8 with pickups, meter changes in Essen songs) and the
part assignment of multi-voice pieces are easier to guarantee exactly when we own the bar
arithmetic; (3) going Piece -> MIDI bytes -> symusic -> tokens for every excerpt and every
generated sequence costs more than walking our own Note lists. This module is about 300 lines,
pure Python, and round-trips a Piece exactly up to the grid (see ``quantize_piece``).

A sequence reads (grammar enforced by ``Grammar``)::

    BOS Style_s Mode_m Density_d Register_r TimeSig_n/d
    ( Bar [TimeSig_n/d] ( Pos_p ( [Track_t] ( Pitch_k [Vel_v] Dur_d )+ )+ )* )*  [EOS]

- Grid: ``positions_per_quarter`` = 12 steps per quarter note (16ths = 3, eighth-note
  triplets = 4). ``Pos`` counts steps from the bar line; bars follow the meter map, so 3/4 has
  36 positions, 6/8 36, 3/2 72. A meter change starts a new bar.
- Within a bar, positions strictly increase; within a position, tracks strictly increase;
  within a track, pitches strictly increase (two notes of one pitch, part and onset merge into
  the longer one).
- Multi-part pieces are one token stream: ``Track_t`` names the t-th pitched part of the piece
  (a Pitch right after Pos, without a Track token, belongs to track 0, so a melody costs no
  Track tokens at all)
  (drums are left out: they are kept verbatim by the continuation, never modelled). A seed with
  several tracks is continued with the same track numbers, so each new note lands in the part
  it was generated for; parts beyond ``max_tracks`` are folded into the last track.
- Durations and velocities are quantized to a fixed list of values (``duration_steps``,
  ``velocities``); durations up to 2 quarters are exact on the grid, up to 4 quarters on 16ths,
  up to 8 on eighths, up to 16 on quarters.
- A Vel token is written only when a note's velocity differs from the previous note of its
  track in the same bar (``default_velocity`` at each bar line): the corpus is nearly all one
  dynamic, and a token per note for it would cost a fifth of the sequence. Resetting at every
  bar keeps each bar self-contained, so a training window can start at any bar.
- The prefix carries the control tokens (style and the attribute bands). Tempo is not a token:
  it is a rendering parameter taken from the mood and written at decode time.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from generation.music.notes import Note, Part, Piece

SPECIAL = ("PAD", "BOS", "EOS", "Bar")
DEFAULT_STYLES = ("chorale", "renaissance", "german_folk", "chinese_folk", "celtic")


def _default_time_signatures() -> list[list[int]]:
    out = [[n, 1] for n in range(1, 5)] + [[n, 2] for n in range(1, 9)]
    out += [[n, 4] for n in range(1, 17)] + [[n, 8] for n in range(1, 33)]
    out += [[n, 16] for n in range(1, 33)]
    return out


def _default_durations() -> list[int]:
    return (list(range(1, 25)) + list(range(27, 49, 3)) + list(range(54, 97, 6))
            + list(range(108, 193, 12)))


@dataclass
class TokenizerConfig:
    """Everything that fixes the vocabulary; saved as JSON beside a checkpoint."""

    positions_per_quarter: int = 12  # grid steps per quarter note (covers 16ths and triplets)
    max_bar_quarters: int = 16  # longest bar (4/1 in Essen); sets the number of Pos tokens
    max_tracks: int = 8  # pitched parts in one stream
    pitch_low: int = 21  # A0
    pitch_high: int = 108  # C8
    velocities: list[int] = field(default_factory=lambda: [36, 50, 64, 78, 96, 112])
    default_velocity: int = 78  # velocity of a note without a Vel token (mf)
    duration_steps: list[int] = field(default_factory=_default_durations)
    time_signatures: list[list[int]] = field(default_factory=_default_time_signatures)
    styles: list[str] = field(default_factory=lambda: list(DEFAULT_STYLES))
    modes: list[str] = field(default_factory=lambda: ["major", "minor"])
    density_bands: list[str] = field(default_factory=lambda: ["sparse", "moderate", "dense"])
    register_bands: list[str] = field(default_factory=lambda: ["low", "middle", "high"])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TokenizerConfig:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


class UnsupportedPiece(ValueError):
    """The piece cannot be written in this vocabulary (e.g. an unknown meter)."""


class Tokenizer:
    """Maps Piece <-> token ids. Id ranges per token type are contiguous (see ``ranges``)."""

    PREFIX_LEN = 6  # BOS Style Mode Density Register TimeSig

    def __init__(self, config: TokenizerConfig | None = None):
        self.config = config or TokenizerConfig()
        c = self.config
        self.q = c.positions_per_quarter
        self.max_positions = c.max_bar_quarters * self.q
        self.vocab: list[str] = list(SPECIAL)
        self.ranges: dict[str, tuple[int, int]] = {}

        def add(kind: str, names: list[str]) -> None:
            start = len(self.vocab)
            self.vocab.extend(f"{kind}_{n}" for n in names)
            self.ranges[kind] = (start, len(self.vocab))

        add("Style", c.styles)
        add("Mode", c.modes)
        add("Density", c.density_bands)
        add("Register", c.register_bands)
        add("TimeSig", [f"{n}/{d}" for n, d in c.time_signatures])
        add("Pos", [str(p) for p in range(self.max_positions)])
        add("Track", [str(t) for t in range(c.max_tracks)])
        add("Pitch", [str(p) for p in range(c.pitch_low, c.pitch_high + 1)])
        add("Vel", [str(v) for v in c.velocities])
        add("Dur", [str(d) for d in c.duration_steps])
        self.index = {name: i for i, name in enumerate(self.vocab)}
        self.pad, self.bos, self.eos, self.bar = 0, 1, 2, 3
        # bar length in grid steps of each TimeSig token (0 when the meter's bar is too long)
        self.timesig_steps = [self._bar_steps(n, d) for n, d in c.time_signatures]

    # -- vocabulary helpers -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def kind(self, token: int) -> str:
        if token < len(SPECIAL):
            return SPECIAL[token]
        for kind, (a, b) in self.ranges.items():
            if a <= token < b:
                return kind
        raise ValueError(f"token {token} outside the vocabulary")

    def offset(self, token: int) -> int:
        """Index of the token within its kind (Pos_5 -> 5)."""
        return token - self.ranges[self.kind(token)][0]

    def token(self, kind: str, index: int) -> int:
        a, b = self.ranges[kind]
        if not 0 <= index < b - a:
            raise ValueError(f"{kind} index {index} out of range")
        return a + index

    def _bar_steps(self, num: int, den: int) -> int:
        steps = num * 4 * self.q / den
        ok = steps == int(steps) and 0 < steps <= self.max_positions
        return int(steps) if ok else 0

    def timesig_token(self, num: int, den: int) -> int:
        try:
            i = self.config.time_signatures.index([num, den])
        except ValueError:
            raise UnsupportedPiece(f"meter {num}/{den} is not supported") from None
        if not self.timesig_steps[i]:
            raise UnsupportedPiece(f"meter {num}/{den} has bars that are too long")
        return self.token("TimeSig", i)

    def prefix(self, style: str, mode: str, density_band: str, register_band: str,
               meter: tuple[int, int]) -> list[int]:
        """The control prefix: BOS Style Mode Density Register TimeSig."""
        c = self.config
        style_i = c.styles.index(style) if style in c.styles else 0
        return [self.bos, self.token("Style", style_i), self.token("Mode", c.modes.index(mode)),
                self.token("Density", c.density_bands.index(density_band)),
                self.token("Register", c.register_bands.index(register_band)),
                self.timesig_token(*meter)]

    # -- quantization -------------------------------------------------------------------------
    def quantize_duration(self, steps: float) -> int:
        """Nearest allowed duration, in grid steps (ties go to the shorter one)."""
        durs = self.config.duration_steps
        return min(durs, key=lambda d: (abs(d - steps), d))

    def quantize_velocity(self, velocity: int) -> int:
        vels = self.config.velocities
        return min(vels, key=lambda v: (abs(v - velocity), v))

    def bar_lines(self, piece: Piece, end_beat: float | None = None) -> list[tuple[int, int]]:
        """(start step, TimeSig index) of every bar up to ``end_beat``, from the meter map.

        Bars are contiguous. A meter change that falls inside a bar takes effect at the next
        bar line (the notes keep their exact onsets; only the bar lines of the old meter run
        on a little longer), so the bar lines can be rebuilt from the TimeSig tokens alone.
        """
        end = self._step(piece.end_beat if end_beat is None else end_beat)
        sigs = piece.time_signatures or [(0.0, 4, 4)]
        changes = [(self._step(beat), self.timesig_token(num, den) - self.ranges["TimeSig"][0])
                   for beat, num, den in sigs]
        out: list[tuple[int, int]] = []
        ts_i = changes[0][1]
        s, k = 0, 1
        while s < max(end, 1):
            while k < len(changes) and changes[k][0] <= s:
                ts_i = changes[k][1]
                k += 1
            out.append((s, ts_i))
            s += self.timesig_steps[ts_i]
        return out

    def _step(self, beat: float) -> int:
        return int(math.floor(beat * self.q + 0.5))

    def _tracks(self, piece: Piece) -> list[Part]:
        return [p for p in piece.parts if not p.is_drum]

    def quantize_piece(self, piece: Piece) -> Piece:
        """The piece exactly as the tokens will carry it (decode(encode(p)) == this)."""
        return self.decode(self.encode(piece, prefix=None), meter_map=piece.time_signatures,
                           programs=[p.program for p in self._tracks(piece)][: self.config.max_tracks],
                           tempo_bpm=piece.tempo_bpm, key=piece.key, title=piece.title)

    # -- encode -------------------------------------------------------------------------------
    def events(self, piece: Piece) -> tuple[list[tuple[int, int]], dict]:
        """(bars, events) as the tokens will carry them: the bar lines (start step, TimeSig
        index) up to the last quantized note-off, and {(bar, pos, track, pitch): (dur, vel)}."""
        c = self.config
        bars = self.bar_lines(piece)
        starts = [s for s, _ in bars]
        events: dict[tuple[int, int, int, int], tuple[int, int]] = {}
        end = 1
        for t, part in enumerate(self._tracks(piece)):
            track = min(t, c.max_tracks - 1)
            for n in part.notes:
                if not c.pitch_low <= n.pitch <= c.pitch_high:
                    continue
                step = self._step(n.onset)
                b = _bisect_right(starts, step) - 1
                if b < 0:
                    b, step = 0, starts[0]
                dur = self.quantize_duration(n.duration * self.q)
                vel = self.quantize_velocity(n.velocity)
                key = (b, step - starts[b], track, n.pitch)
                end = max(end, step + dur)
                if key in events and events[key][0] >= dur:
                    continue
                events[key] = (dur, vel)
        # bars after the last quantized note-off carry nothing (a clipped long note, a note
        # out of range): leave them out so that decode -> encode is stable
        bars = [b for b in bars if b[0] < end] or bars[:1]
        return bars, events

    def encode(self, piece: Piece, prefix: list[int] | None = None,
               first_bar: int = 0, events: tuple | None = None) -> list[int]:
        """Tokens of the piece's pitched parts (drums left out), from bar ``first_bar`` on.

        ``prefix`` (from ``prefix()``) is put in front; without it the body alone is returned
        (it starts with the first Bar token). ``events`` is ``self.events(piece)`` when the
        caller has it already. Raises UnsupportedPiece for unknown meters.
        """
        c = self.config
        bars, events = events if events is not None else self.events(piece)
        out: list[int] = list(prefix) if prefix else []
        by_bar: dict[int, list] = {}
        for key in sorted(events):
            by_bar.setdefault(key[0], []).append(key)
        for b in range(first_bar, len(bars)):
            out.append(self.bar)
            if b > 0 and bars[b][1] != bars[b - 1][1]:
                out.append(self.token("TimeSig", bars[b][1]))
            last_pos = last_track = None
            bar_vel: dict[int, int] = {}
            for _, pos, track, pitch in by_bar.get(b, []):
                if pos != last_pos:
                    out.append(self.token("Pos", pos))
                    last_pos, last_track = pos, None
                if track != last_track:
                    if not (track == 0 and last_track is None):  # Track_0 is implied
                        out.append(self.token("Track", track))
                    last_track = track
                dur, vel = events[(b, pos, track, pitch)]
                out.append(self.token("Pitch", pitch - c.pitch_low))
                if vel != bar_vel.get(track, c.default_velocity):
                    out.append(self.token("Vel", c.velocities.index(vel)))
                    bar_vel[track] = vel
                out.append(self.token("Dur", c.duration_steps.index(dur)))
        return out

    # -- decode -------------------------------------------------------------------------------
    def decode(self, tokens: list[int], meter_map=None, programs: list[int] | None = None,
               tempo_bpm: float = 120.0, key: str | None = None, title: str = "",
               start_beat: float = 0.0) -> Piece:
        """Tokens -> Piece. Tolerates a missing prefix; ignores tokens that break the grammar
        (constrained sampling never produces them). The meter comes from the TimeSig tokens;
        ``meter_map`` only supplies the first meter when the tokens carry no prefix."""
        c = self.config
        ts_a = self.ranges["TimeSig"][0]
        bar_steps = None
        first_meter = None
        if meter_map:
            num, den = meter_map[0][1], meter_map[0][2]
            bar_steps = self._bar_steps(num, den) or None
            first_meter = (num, den)
        n_tracks = max(1, len(programs or []))
        notes: dict[int, list[Note]] = {}
        sigs: list[tuple[float, int, int]] = []
        bar_start = None  # in steps
        bar_vel: dict[int, int] = {}
        pos = track = pitch = vel = None
        start = int(round(start_beat * self.q))
        for tok in tokens:
            kind = self.kind(tok)
            if kind == "TimeSig":
                i = tok - ts_a
                num, den = c.time_signatures[i]
                bar_steps = self.timesig_steps[i]
                at = (bar_start if bar_start is not None else start) / self.q
                if not sigs or (sigs[-1][1], sigs[-1][2]) != (num, den):
                    sigs.append((at, num, den))
            elif kind == "Bar":
                if bar_steps is None:
                    bar_steps = 4 * self.q
                bar_start = start if bar_start is None else bar_start + bar_steps
                if not sigs and first_meter:
                    sigs.append((bar_start / self.q, *first_meter))
                pos = track = pitch = vel = None
                bar_vel: dict[int, int] = {}
            elif kind == "Pos" and bar_start is not None:
                pos, track = self.offset(tok), None
            elif kind == "Track" and pos is not None:
                track = self.offset(tok)
                n_tracks = max(n_tracks, track + 1)
            elif kind == "Pitch" and pos is not None:
                track = 0 if track is None else track  # a Pitch right after Pos: track 0
                pitch, vel = self.offset(tok) + c.pitch_low, None
            elif kind == "Vel" and pitch is not None:
                vel = bar_vel[track] = c.velocities[self.offset(tok)]
            elif kind == "Dur" and pitch is not None:
                if vel is None:
                    vel = bar_vel.get(track, c.default_velocity)
                dur = c.duration_steps[self.offset(tok)]
                onset = (bar_start + pos) / self.q
                notes.setdefault(track, []).append(Note(onset, pitch, dur / self.q, vel))
                pitch = vel = None
            elif kind == "EOS":
                break
        programs = list(programs or [])
        parts = []
        for t in range(n_tracks):
            program = programs[t] if t < len(programs) else (programs[-1] if programs else 0)
            parts.append(Part(notes=sorted(notes.get(t, [])), program=program))
        if not sigs:
            sigs = [(0.0, *(first_meter or (4, 4)))]
        if sigs[0][0] > 0:
            sigs[0] = (0.0, sigs[0][1], sigs[0][2])
        return Piece(parts=parts, tempos=[(0.0, float(tempo_bpm))], time_signatures=sigs,
                     key=key, title=title)

    def describe(self, tokens: list[int]) -> list[str]:
        return [self.vocab[t] for t in tokens]

    def save(self, path: str | Path) -> None:
        self.config.save(path)

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        return cls(TokenizerConfig.load(path))


def _bisect_right(a: list[int], x: int) -> int:
    lo, hi = 0, len(a)
    while lo < hi:
        mid = (lo + hi) // 2
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


# ---------------------------------------------------------------------------------------------
# Grammar: which token may come next (used by constrained sampling and by the tests)
# ---------------------------------------------------------------------------------------------
class Grammar:
    """A small state machine over token types; ``allowed()`` lists what may come next.

    Fed the prompt and then each sampled token, it guarantees every sequence it accepts decodes
    to a valid piece: positions inside the bar and increasing, tracks and pitches increasing
    within a position, every note complete (Pitch [Vel] Dur).
    """

    def __init__(self, tok: Tokenizer):
        self.tok = tok
        self.state = "start"  # start | prefix<i> | bar | pos | track | pitch | vel | dur | end
        self.prefix_i = 0
        self.bar_steps = 4 * tok.q
        self.pos = -1
        self.track = -1
        self.pitch = -1

    def copy(self) -> Grammar:
        g = Grammar.__new__(Grammar)
        g.__dict__.update(self.__dict__)
        return g

    def allowed(self) -> list[tuple[int, int]]:
        """Allowed token ids as half-open id ranges."""
        t, r = self.tok, self.tok.ranges
        s = self.state
        if s == "end":
            return [(t.eos, t.eos + 1)]
        if s == "start":
            return [(t.bos, t.bos + 1)]
        if s.startswith("prefix"):
            kind = ("Style", "Mode", "Density", "Register", "TimeSig")[self.prefix_i]
            return [r[kind]]
        if s == "header":  # after the prefix TimeSig: bars only
            return [(t.bar, t.bar + 1)]
        bar_tok = (t.bar, t.bar + 1)
        eos_tok = (t.eos, t.eos + 1)
        pos_from = r["Pos"][0] + self.pos + 1
        pos_to = r["Pos"][0] + self.bar_steps
        pos_rng = (pos_from, pos_to) if pos_from < pos_to else None
        if s == "bar":  # just after Bar: an optional meter change, a position, or a new bar
            out = [bar_tok, eos_tok, self._timesig_range()]
            return out + ([pos_rng] if pos_rng else [])
        if s == "barsig":
            return [bar_tok, eos_tok] + ([pos_rng] if pos_rng else [])
        if s == "pos":  # a Track, or a Pitch of the implied track 0
            return [r["Track"], r["Pitch"]]
        if s == "track":
            return [(r["Pitch"][0], r["Pitch"][1])]
        if s == "pitch":
            return [r["Vel"], r["Dur"]]
        if s == "vel":
            return [r["Dur"]]
        if s == "dur":
            out = [bar_tok, eos_tok]
            if self.pitch + 1 < r["Pitch"][1] - r["Pitch"][0]:
                out.append((r["Pitch"][0] + self.pitch + 1, r["Pitch"][1]))
            if self.track + 1 < r["Track"][1] - r["Track"][0]:
                out.append((r["Track"][0] + self.track + 1, r["Track"][1]))
            if pos_rng:
                out.append(pos_rng)
            return out
        raise AssertionError(s)

    def _timesig_range(self) -> tuple[int, int]:
        return self.tok.ranges["TimeSig"]

    def accepts(self, token: int) -> bool:
        return any(a <= token < b for a, b in self.allowed()) and self._meter_ok(token)

    def _meter_ok(self, token: int) -> bool:
        a, b = self.tok.ranges["TimeSig"]
        return not (a <= token < b) or self.tok.timesig_steps[token - a] > 0

    def feed(self, token: int) -> None:
        """Advance; raises ValueError on a token the grammar does not allow here."""
        if not self.accepts(token):
            raise ValueError(f"token {self.tok.vocab[token]} not allowed in state {self.state}")
        t = self.tok
        kind = t.kind(token)
        if kind == "EOS":
            self.state = "end"
        elif kind == "BOS":
            self.state, self.prefix_i = "prefix", 0
        elif self.state == "prefix":
            if kind == "TimeSig":
                self.bar_steps = t.timesig_steps[t.offset(token)]
                self.state = "header"
            else:
                self.prefix_i += 1
        elif kind == "Bar":
            self.state, self.pos, self.track, self.pitch = "bar", -1, -1, -1
        elif kind == "TimeSig":
            self.bar_steps = t.timesig_steps[t.offset(token)]
            self.state = "barsig"
        elif kind == "Pos":
            self.state, self.pos, self.track, self.pitch = "pos", t.offset(token), -1, -1
        elif kind == "Track":
            self.state, self.track, self.pitch = "track", t.offset(token), -1
        elif kind == "Pitch":
            if self.state == "pos":
                self.track = 0
            self.state, self.pitch = "pitch", t.offset(token)
        elif kind == "Vel":
            self.state = "vel"
        elif kind == "Dur":
            self.state = "dur"

    def feed_all(self, tokens: list[int]) -> Grammar:
        for tok in tokens:
            self.feed(tok)
        return self
