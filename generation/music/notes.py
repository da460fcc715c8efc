"""The one canonical note-level representation of a piece, and its conversions.

Time is measured in quarter-note beats (music21's ``quarterLength``), so a piece reads the
same whatever its tempo; seconds are derived from the tempo map only when audio or MIDI is
written. Everything else in the engine (tokenizer, piano roll, attributes, models,
rendering) speaks ``Piece``.

Conversions:
- MIDI in: pretty_midi (``piece_from_midi``); ticks become beats exactly (tick / resolution).
- MIDI out: mido (``piece_to_midi_bytes``), writing ticks directly so that tempo and meter
  changes survive exactly; pretty_midi can only write a single initial tempo.
- music21 in and out (``piece_from_music21`` / ``piece_to_music21``) and MusicXML through it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

DEFAULT_TEMPO_BPM = 120.0
DEFAULT_RESOLUTION = 480  # MIDI ticks per quarter note when writing


@dataclass(frozen=True, order=True)
class Note:
    """One sounding note. ``onset`` and ``duration`` are in quarter-note beats."""

    onset: float
    pitch: int
    duration: float
    velocity: int = 80


@dataclass
class Part:
    """One instrument's notes. ``program`` is the General MIDI program (0-127)."""

    notes: list[Note] = field(default_factory=list)
    program: int = 0
    is_drum: bool = False
    name: str = ""

    def sorted(self) -> Part:
        return replace(self, notes=sorted(self.notes))


@dataclass
class Piece:
    """A whole piece: parts plus the tempo map and the meter map, all in beats."""

    parts: list[Part] = field(default_factory=list)
    # (beat, bpm) pairs, sorted by beat; the first one applies from beat 0.
    tempos: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, DEFAULT_TEMPO_BPM)])
    # (beat, numerator, denominator), sorted by beat; the first one applies from beat 0.
    time_signatures: list[tuple[float, int, int]] = field(default_factory=lambda: [(0.0, 4, 4)])
    key: str | None = None  # e.g. "C major", "a minor" when known
    title: str = ""

    # -- simple reads -------------------------------------------------------------------------
    @property
    def tempo_bpm(self) -> float:
        return self.tempos[0][1] if self.tempos else DEFAULT_TEMPO_BPM

    @property
    def time_signature(self) -> tuple[int, int]:
        if not self.time_signatures:
            return (4, 4)
        _, num, den = self.time_signatures[0]
        return (num, den)

    @property
    def bar_beats(self) -> float:
        """Length of one bar of the first meter, in quarter-note beats (6/8 -> 3.0)."""
        num, den = self.time_signature
        return num * 4.0 / den

    def all_notes(self, include_drums: bool = True) -> list[Note]:
        out: list[Note] = []
        for part in self.parts:
            if part.is_drum and not include_drums:
                continue
            out.extend(part.notes)
        out.sort()
        return out

    @property
    def note_count(self) -> int:
        return sum(len(p.notes) for p in self.parts)

    @property
    def end_beat(self) -> float:
        return max((n.onset + n.duration for p in self.parts for n in p.notes), default=0.0)

    @property
    def bars(self) -> int:
        """Number of bars the notes reach into, counting with the first meter."""
        if self.end_beat <= 0:
            return 0
        return max(1, math.ceil(self.end_beat / self.bar_beats - 1e-9))

    def beat_to_seconds(self, beat: float) -> float:
        seconds, last_beat, bpm = 0.0, 0.0, self.tempo_bpm
        for t_beat, t_bpm in self.tempos[1:]:
            if t_beat >= beat:
                break
            seconds += (t_beat - last_beat) * 60.0 / bpm
            last_beat, bpm = t_beat, t_bpm
        return seconds + (beat - last_beat) * 60.0 / bpm

    @property
    def duration_seconds(self) -> float:
        return self.beat_to_seconds(self.end_beat)

    def with_tempo(self, bpm: float) -> Piece:
        """A copy with one constant tempo (tempo is a rendering parameter, not learned)."""
        return replace(self, tempos=[(0.0, float(bpm))])


# ---------------------------------------------------------------------------------------------
# MIDI
# ---------------------------------------------------------------------------------------------
def piece_from_pretty_midi(pm) -> Piece:
    """Convert a parsed ``pretty_midi.PrettyMIDI`` into a Piece (ticks -> beats exactly)."""
    res = float(pm.resolution)

    def beats(seconds: float) -> float:
        return float(pm.time_to_tick(seconds)) / res

    parts: list[Part] = []
    for inst in pm.instruments:
        notes = []
        for n in inst.notes:
            onset = beats(n.start)
            end = beats(n.end)
            if end <= onset:
                continue
            notes.append(Note(onset, int(n.pitch), end - onset, int(n.velocity)))
        notes.sort()
        parts.append(Part(notes=notes, program=int(inst.program), is_drum=bool(inst.is_drum),
                          name=inst.name or ""))
    tempo_times, tempi = pm.get_tempo_changes()
    tempos = [(beats(float(t)), float(b)) for t, b in zip(tempo_times, tempi, strict=True)]
    if not tempos or tempos[0][0] > 0:
        tempos.insert(0, (0.0, tempos[0][1] if tempos else DEFAULT_TEMPO_BPM))
    tss = [(beats(ts.time), int(ts.numerator), int(ts.denominator))
           for ts in pm.time_signature_changes]
    if not tss or tss[0][0] > 0:
        tss.insert(0, (0.0, tss[0][1], tss[0][2]) if tss else (0.0, 4, 4))
    key = None
    if pm.key_signature_changes:
        import pretty_midi

        key = pretty_midi.key_number_to_key_name(pm.key_signature_changes[0].key_number)
        key = key.replace(" Major", " major").replace(" Minor", " minor")
    return Piece(parts=parts, tempos=_dedupe_map(tempos), time_signatures=_dedupe_map(tss),
                 key=key)


def piece_from_midi(source: str | Path | bytes) -> Piece:
    """Read a MIDI file (path or bytes). Trusted input only: uploads go through
    ``generation.music.validate`` first."""
    import pretty_midi

    return piece_from_pretty_midi(pretty_midi.PrettyMIDI(mido_object=open_midi(source)))


# How text in MIDI files (titles, part names) is read: UTF-8, as ``piece_to_midi_bytes``
# writes it, else Latin-1 (mido's default, which takes any byte), for older files.
MIDI_CHARSETS = ("utf-8", "latin1")


def open_midi(source: str | Path | bytes):
    """A ``mido.MidiFile`` of a path or bytes, its text decoded with the first of
    MIDI_CHARSETS that fits, so a name written here reads back as it was written."""
    import mido

    data = bytes(source) if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
    for charset in MIDI_CHARSETS[:-1]:
        try:
            return mido.MidiFile(file=io.BytesIO(data), charset=charset)
        except UnicodeDecodeError:
            continue
    return mido.MidiFile(file=io.BytesIO(data), charset=MIDI_CHARSETS[-1])


def _dedupe_map(items: list[tuple]) -> list[tuple]:
    """Keep the last event at each beat, sorted by beat."""
    by_beat: dict[float, tuple] = {}
    for item in sorted(items, key=lambda x: x[0]):
        by_beat[round(item[0], 6)] = item
    return [by_beat[b] for b in sorted(by_beat)]


def piece_to_midi_bytes(piece: Piece, resolution: int = DEFAULT_RESOLUTION) -> bytes:
    """Write a type-1 MIDI file: a conductor track (tempo, meter, key) and one track a part."""
    import mido

    def tick(beat: float) -> int:
        return max(0, int(round(beat * resolution)))

    # UTF-8 so that titles and part names in any language (a Chinese mood) can be written
    mid = mido.MidiFile(type=1, ticks_per_beat=resolution, charset=MIDI_CHARSETS[0])
    conductor: list[tuple[int, int, mido.MetaMessage]] = []
    for beat, bpm in piece.tempos or [(0.0, DEFAULT_TEMPO_BPM)]:
        conductor.append((tick(beat), 0, mido.MetaMessage("set_tempo",
                                                          tempo=mido.bpm2tempo(bpm))))
    for beat, num, den in piece.time_signatures or [(0.0, 4, 4)]:
        conductor.append((tick(beat), 1, mido.MetaMessage("time_signature", numerator=num,
                                                          denominator=den)))
    if piece.key:
        midi_key = _key_to_mido(piece.key)
        if midi_key:
            conductor.append((0, 2, mido.MetaMessage("key_signature", key=midi_key)))
    if piece.title:
        conductor.append((0, 3, mido.MetaMessage("track_name", name=piece.title[:120])))
    mid.tracks.append(_to_track(conductor))

    channel_pool = [c for c in range(16) if c != 9]
    for i, part in enumerate(piece.parts):
        channel = 9 if part.is_drum else channel_pool[i % len(channel_pool)]
        events: list[tuple[int, int, object]] = []
        if part.name:
            events.append((0, 0, mido.MetaMessage("track_name", name=part.name[:120])))
        if not part.is_drum:
            events.append((0, 1, mido.Message("program_change", channel=channel,
                                              program=int(part.program) & 127)))
        for n in part.notes:
            start, end = tick(n.onset), tick(n.onset + n.duration)
            if end <= start:
                end = start + 1
            pitch = min(127, max(0, int(n.pitch)))
            vel = min(127, max(1, int(n.velocity)))
            # note-offs sort before note-ons at the same tick so repeated notes re-strike
            events.append((end, 2, mido.Message("note_off", channel=channel, note=pitch,
                                                velocity=0)))
            events.append((start, 3, mido.Message("note_on", channel=channel, note=pitch,
                                                  velocity=vel)))
        mid.tracks.append(_to_track(events))
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _to_track(events):
    import mido

    track = mido.MidiTrack()
    now = 0
    for t, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=t - now))
        now = t
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


_MIDO_KEYS = {"C", "G", "D", "A", "E", "B", "F#", "C#", "F", "Bb", "Eb", "Ab", "Db", "Gb",
              "Cb"}


def _key_to_mido(key: str) -> str | None:
    try:
        tonic, mode = key.split()
    except ValueError:
        return None
    tonic = tonic[0].upper() + tonic[1:].replace("-", "b")
    if mode.lower() == "minor":
        return tonic + "m" if tonic in {"A", "E", "B", "F#", "C#", "G#", "D#", "A#", "D",
                                        "G", "C", "F", "Bb", "Eb", "Ab"} else None
    return tonic if tonic in _MIDO_KEYS else None


def write_midi(piece: Piece, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(piece_to_midi_bytes(piece))
    return path


# ---------------------------------------------------------------------------------------------
# music21
# ---------------------------------------------------------------------------------------------
def piece_from_music21(score, title: str = "") -> Piece:
    """Convert a music21 Score/Part/Opus-free stream into a Piece.

    Ties are merged, chords become simultaneous notes, grace notes (no duration) are dropped,
    and repeats are left as written (the corpus's phrases are what we learn from).
    """
    from music21 import chord, meter, note, stream, tempo

    score = score.stripTies(inPlace=False) if hasattr(score, "stripTies") else score
    part_streams = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    parts: list[Part] = []
    for ps in part_streams:
        flat = ps.flatten()
        notes: list[Note] = []
        for el in flat.notes:
            ql = float(el.duration.quarterLength)
            if ql <= 0:
                continue
            onset = float(el.getOffsetInHierarchy(ps)) if el.activeSite is not flat else float(
                el.offset)
            vel = el.volume.velocity if el.volume is not None and el.volume.velocity else 80
            if isinstance(el, chord.Chord):
                for p in el.pitches:
                    notes.append(Note(onset, int(p.midi), ql, int(vel)))
            elif isinstance(el, note.Note):
                notes.append(Note(onset, int(el.pitch.midi), ql, int(vel)))
        notes.sort()
        program = 0
        inst = ps.getInstrument(returnDefault=False) if isinstance(ps, stream.Stream) else None
        if inst is not None and inst.midiProgram is not None:
            program = int(inst.midiProgram)
        parts.append(Part(notes=notes, program=program, name=str(ps.partName or "")))

    flat_all = score.flatten()
    tss = [(float(ts.getOffsetInHierarchy(score)), int(ts.numerator), int(ts.denominator))
           for ts in flat_all.getElementsByClass(meter.TimeSignature)]
    if not tss or tss[0][0] > 0:
        tss.insert(0, (0.0, tss[0][1], tss[0][2]) if tss else (0.0, 4, 4))
    tempos = [(float(mm.getOffsetInHierarchy(score)), float(mm.getQuarterBPM()))
              for mm in flat_all.getElementsByClass(tempo.MetronomeMark)
              if mm.getQuarterBPM()]
    if not tempos or tempos[0][0] > 0:
        tempos.insert(0, (0.0, tempos[0][1] if tempos else DEFAULT_TEMPO_BPM))
    key = None
    try:
        from music21 import key as m21key

        ks = flat_all.getElementsByClass(m21key.Key)
        k = ks[0] if len(ks) else None
        if k is not None:
            key = f"{k.tonic.name} {k.mode}"
    except Exception:  # key is optional metadata
        key = None
    # shift so that a pickup that starts after 0 still starts at its written offset
    return Piece(parts=[p for p in parts if p.notes] or parts[:1], tempos=_dedupe_map(tempos),
                 time_signatures=_dedupe_map(tss), key=key, title=title)


def _ql(value: float) -> Fraction | float:
    """Beats as an exact fraction when they are a simple one (music21 prefers that)."""
    f = Fraction(value).limit_denominator(48)
    return f if abs(float(f) - value) < 1e-6 else value


def _spell(midi: int, flats: bool):
    """A pitch spelled for the key: flats in flat keys, no explicit naturals (music21 then
    decides which accidentals to show from the key signature)."""
    from music21 import pitch

    p = pitch.Pitch(midi=int(midi))
    if flats and p.accidental is not None and p.accidental.name == "sharp":
        p = p.getEnharmonic()
    if p.accidental is not None and p.accidental.name == "natural":
        p.accidental = None
    return p


def piece_to_music21(piece: Piece):
    """Build a music21 Score: one Part per Part, simultaneous notes as chords, measures made,
    the tempo written into the first measure (where MusicXML keeps it)."""
    from music21 import chord, instrument, key, metadata, meter, note, stream, tempo

    score = stream.Score()
    if piece.title:
        score.insert(0, metadata.Metadata(title=piece.title))
    for part in piece.parts:
        if part.is_drum:
            continue  # drums are audio-only; they would engrave as noise on a pitched staff
        ps = stream.Part()
        ps.partName = part.name or None
        try:
            inst = instrument.instrumentFromMidiProgram(int(part.program))
        except Exception:
            inst = instrument.Piano()
        ps.insert(0, inst)
        for beat, num, den in piece.time_signatures:
            ps.insert(_ql(beat), meter.TimeSignature(f"{num}/{den}"))
        flats = False
        if piece.key:
            try:
                tonic, mode = piece.key.split()
                k = key.Key(tonic, mode.lower())
                ps.insert(0, k)
                flats = k.sharps < 0
            except Exception:
                pass
        groups: dict[tuple[float, float], list[Note]] = {}
        for n in part.notes:
            groups.setdefault((round(n.onset, 6), round(n.duration, 6)), []).append(n)
        for (onset, dur), ns in sorted(groups.items()):
            spelled = [_spell(m, flats) for m in sorted({n.pitch for n in ns})]
            el = note.Note(spelled[0]) if len(spelled) == 1 else chord.Chord(spelled)
            el.duration.quarterLength = _ql(dur)
            el.volume.velocity = ns[0].velocity
            ps.insert(_ql(onset), el)
        score.insert(0, ps)
    if not score.parts:
        ps = stream.Part()
        ps.insert(0, meter.TimeSignature("{}/{}".format(*piece.time_signature)))
        score.insert(0, ps)
    score = score.makeNotation(inPlace=False)
    # music21 keeps a tempo in MusicXML only when it sits inside a Measure.
    if score.parts:
        first = score.parts[0]
        measures = list(first.getElementsByClass(stream.Measure))
        for beat, bpm in piece.tempos:
            target = next((m for m in reversed(measures) if m.offset <= beat + 1e-9), None)
            if target is not None:
                target.insert(_ql(beat - float(target.offset)),
                              tempo.MetronomeMark(number=round(bpm)))
    return score


def piece_to_musicxml(piece: Piece, path: str | Path) -> Path:
    path = Path(path)
    piece_to_music21(piece).write("musicxml", fp=str(path))
    return path


def piece_from_musicxml(path: str | Path) -> Piece:
    from music21 import converter

    return piece_from_music21(converter.parse(str(path)), title=Path(path).stem)
