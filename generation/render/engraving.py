"""A Piece laid out as an engraver would write it, as a music21 Score (for MusicXML).

``piece_to_music21`` in ``generation.music.notes`` is a plain conversion: simultaneous notes of
one part that do not share a duration leave music21 to invent voices (numbered from 0, which
verovio lays one after the other, so bars look overfull and the timemap drifts) and lower
voices have no rests. ``engrave_piece`` writes instead what a musician expects to read:

- Times cleaned before anything is notated: each beat of a part is read on a sixteenth grid,
  or on an eighth-triplet grid where its notes really sit on triplet positions (simple meters
  only), so a note that fills 95 % of a beat is that beat and no tuplet "dust" appears.
- Voices per staff: at most ``MAX_VOICES``, numbered from 1, the highest line first; notes
  that start and end together are one chord. A second voice appears only in the bars where
  it has notes, and every voice present in a bar is complete (rests shown) and adds up to
  the meter, as does every bar.
- Rests that show the beat: a rest is cut at the beats it crosses (a half rest kept for a
  half bar of four beats).
- Staves: a grand staff (treble and bass, braced) for keyboard and organ parts that play
  more than one line or span more than one clef, and for any part that plays chords (a
  transferred chorale); four parts of one kind (a chorale, a four-part Renaissance texture)
  on two staves, soprano and alto above, tenor and bass below; one staff for any other part.
  Clefs come from each staff's range (treble, bass or treble-8: ``clef_for``), with a clef
  change for a bar that would otherwise need more than four ledger lines.
- Ranges: ``fit_to_ranges`` moves notes the model wrote outside its instrument's range by
  octaves into it; the pipeline applies it before anything is written, so the score, the
  MIDI and the audio agree.
- Pitches spelled by the key (the piece's, else music21's key analysis): the key's scale
  (with the raised sixth and seventh in minor); a chromatic note by the chord it sounds in
  (G# in an E major chord, not Ab: the name that makes the fewest augmented and diminished
  intervals with the notes sounding with it, augmented ones counting double), and where
  both names do as well, as a sharp when the line goes up next and a flat when it goes down.
  A listening judge read "Ab for G# in an E major chord" as the mark of a program.

Why voices and times are assigned here rather than by ``Stream.makeVoices`` and
``quantize``: makeVoices works one measure at a time, so a line changes voice from one bar to
the next, and it has no notion of a chord or of a maximum number of voices; music21's
``quantize`` snaps each time to the nearest point of every divisor given, which is what makes
triplet dust in a duple beat. Measures, ties across bar lines and the rests that complete each
voice are music21's own (``makeMeasures``, ``makeTies``, ``makeRests``).

No Django here: the engine renders and tests without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from generation.music.notes import Note, Part, Piece

MAX_VOICES = 2  # lines per staff; more than two on one staff is not readable
SPLIT_PITCH = 60  # middle C and above go to the upper staff of a grand staff
# General MIDI programs written on a grand staff: pianos (0-7) and organs (16-20).
KEYBOARD_PROGRAMS = frozenset(range(0, 8)) | frozenset(range(16, 21))
# A part that is not a keyboard also gets two staves when it sounds this many notes at once
# (a chord texture such as a transferred chorale), or two at once over more than this many
# semitones (a keyboard part: a single line over this span).
CHORD_TEXTURE = 3
WIDE_SPAN = 28
TRIPLET_TOLERANCE = 0.04  # beats: how near a triplet position an onset must be to count


@dataclass
class Event:
    """Notes of one voice that start and end together (one note or a chord), in beats."""

    onset: Fraction
    end: Fraction
    pitches: tuple[int, ...]
    velocity: int = 80

    @property
    def mean_pitch(self) -> float:
        return sum(self.pitches) / len(self.pitches)


@dataclass
class Staff:
    voices: list[list[Event]] = field(default_factory=list)
    # "treble" / "bass": the clef a staff of a pair starts from when the notes allow it
    # (no note beyond four ledger lines); None: the clef the range reads best in
    prefer: str | None = None


@dataclass
class PartLayout:
    """One instrument as it is engraved: its name, program and one or two staves."""

    name: str | None  # the label; None: the instrument's name, "": no label
    program: int
    staves: list[Staff]
    brace: str = "brace"  # how two staves are joined: "brace" (keyboard) or "bracket" (choir)


# ---------------------------------------------------------------------------------------------
# Times
# ---------------------------------------------------------------------------------------------
def is_compound(num: int, den: int) -> bool:
    """6/8, 9/8, 12/8 (and 6/4, 6/16 ...): beats divide in three without tuplets."""
    return num % 3 == 0 and num > 3


def _meter_at(piece: Piece, beat: float) -> tuple[int, int]:
    num, den = piece.time_signature
    for at, n, d in piece.time_signatures:
        if at <= beat + 1e-9:
            num, den = n, d
    return num, den


def triplet_beats(piece: Piece, notes: list[Note]) -> set[int]:
    """Quarter beats whose onsets sit on eighth-triplet positions rather than on sixteenths
    (in meters where such triplets belong: ``_triplets_allowed``)."""
    votes: dict[int, int] = {}
    for n in notes:
        beat = math.floor(n.onset + 1e-9)
        frac = n.onset - beat
        on_third = min(abs(frac - 1 / 3), abs(frac - 2 / 3)) < TRIPLET_TOLERANCE
        on_quarter = min(abs(frac - k / 4) for k in range(5)) < TRIPLET_TOLERANCE
        if on_third and not on_quarter:
            votes[beat] = votes.get(beat, 0) + 1
        elif not on_third and on_quarter and 0.1 < frac < 0.9:
            votes[beat] = votes.get(beat, 0) - 1
    return {b for b, v in votes.items() if v > 0 and _triplets_allowed(*_meter_at(piece, b))}


def _triplets_allowed(num: int, den: int) -> bool:
    """Quarter-beat triplets belong to simple meters counted in halves or quarters; compound
    meters divide in three with dotted notes, and in eighth meters (5/8, 7/8) a quarter-beat
    grid does not even meet the bar line."""
    return den <= 4 and not is_compound(num, den)


def snap(beat: float, triplets: set[int], steps: int | None = None) -> Fraction:
    """A time on the grid of its beat: sixteenths, or eighth triplets in a triplet beat
    (``steps`` per quarter forces one grid)."""
    whole = math.floor(beat + 1e-9)
    steps = steps or (3 if whole in triplets else 4)
    return Fraction(whole) + Fraction(round((beat - whole) * steps), steps)


def clean_notes(piece: Piece, notes: list[Note]) -> list[tuple[Fraction, Fraction, Note]]:
    """(onset, end, note) with both times on the part's grid and every note at least one
    grid step long. A note that starts off the beat ends on its onset's grid (a triplet
    note that ends in a sixteenth beat would otherwise last 13/12 of a beat)."""
    triplets = triplet_beats(piece, notes)
    out = []
    for n in notes:
        on = snap(n.onset, triplets)
        steps = None
        if on.denominator != 1:
            steps = 3 if math.floor(on) in triplets else 4
        end = snap(n.onset + n.duration, triplets, steps)
        if end <= on:
            end = on + Fraction(1, 3 if math.floor(on) in triplets else 4)
        out.append((on, end, n))
    return out


# ---------------------------------------------------------------------------------------------
# Voices and staves
# ---------------------------------------------------------------------------------------------
def assign_voices(timed: list[tuple[Fraction, Fraction, Note]],
                  max_voices: int = MAX_VOICES) -> list[list[Event]]:
    """Split cleaned notes into at most ``max_voices`` lines, the highest first.

    Notes that start and end together form a chord. A note goes to a free line (one whose
    last note has ended) nearest to it in pitch, else to a new line; when ``max_voices``
    lines are busy it joins the chord that starts with it, or cuts the line that ends first
    (notation shortens a held note rather than adding a third line; the audio is unchanged).
    """
    chords: dict[tuple[Fraction, Fraction], Event] = {}
    for on, end, n in timed:
        ev = chords.get((on, end))
        if ev is None:
            chords[(on, end)] = Event(on, end, (n.pitch,), n.velocity)
        elif n.pitch not in ev.pitches:
            ev.pitches = tuple(sorted(ev.pitches + (n.pitch,)))
    events = sorted(chords.values(), key=lambda e: (e.onset, -max(e.pitches)))
    voices: list[list[Event]] = []
    for ev in events:
        free = [v for v in voices if v[-1].end <= ev.onset]
        if free:
            min(free, key=lambda v: abs(v[-1].mean_pitch - ev.mean_pitch)).append(ev)
        elif len(voices) < max_voices:
            voices.append([ev])
        else:
            together = [v for v in voices if v[-1].onset == ev.onset]
            if together:
                last = together[0][-1]
                last.end = min(last.end, ev.end)
                last.pitches = tuple(sorted(set(last.pitches) | set(ev.pitches)))
            else:
                line = min(voices, key=lambda v: v[-1].end)
                line[-1].end = ev.onset
                line.append(ev)
    voices.sort(key=lambda v: -sum(e.mean_pitch for e in v) / len(v))
    return voices


def _max_simultaneous(notes: list[Note]) -> int:
    edges = sorted([(n.onset, 1) for n in notes] + [(n.onset + n.duration, -1) for n in notes],
                   key=lambda e: (e[0], e[1]))
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def _needs_two_staves(part: Part) -> bool:
    """A keyboard part that plays more than one line or spans more than one clef reads well,
    or any part with a chord texture or two lines over a wide range. A single narrow line on
    a keyboard program (the corpus's folk tunes carry program 0) stays on one staff: a grand
    staff would leave one empty."""
    if not part.notes:
        return False
    pitches = [n.pitch for n in part.notes]
    together = _max_simultaneous(part.notes)
    wide = max(pitches) - min(pitches) > WIDE_SPAN
    if part.program in KEYBOARD_PROGRAMS:
        return together >= 2 or wide
    # a melody instrument's single line stays on one staff and changes clef where it must
    return together >= CHORD_TEXTURE or (together >= 2 and wide)


def _mean_pitch(part: Part) -> float:
    return sum(n.pitch for n in part.notes) / len(part.notes) if part.notes else 60.0


def is_four_part_texture(parts: list[Part]) -> bool:
    """Four parts of one instrument (or named S/A/T/B): a chorale or a four-part motet,
    written SA / TB on two staves (the higher pair above, each staff's clef from its
    range: a generated "bass" that sits high gets a treble clef rather than ledger lines)."""
    if len(parts) != 4 or any(not p.notes for p in parts):
        return False
    names = {p.name.strip().lower()[:1] for p in parts}
    same_kind = len({p.program for p in parts}) == 1 or names == {"s", "a", "t", "b"}
    return same_kind


def layout_piece(piece: Piece) -> list[PartLayout]:
    """The staves of the score: parts, their staves and the voices on each staff."""
    parts = [p for p in piece.parts if not p.is_drum]
    if is_four_part_texture(parts):
        ordered = sorted(parts, key=_mean_pitch, reverse=True)
        staves = []
        for pair, prefer in ((ordered[:2], "treble"), (ordered[2:], "bass")):
            voices = [assign_voices(clean_notes(piece, p.notes), max_voices=1)[0] for p in pair]
            staves.append(Staff(voices=voices, prefer=prefer))
        # unnamed voices on the default program (the corpus's motets) are not a "Piano"
        name = parts[0].name or ("" if parts[0].program == 0 else None)
        if {p.name.strip().lower()[:1] for p in parts} == {"s", "a", "t", "b"}:
            name = "SATB"
        return [PartLayout(name=name, program=parts[0].program, staves=staves, brace="bracket")]
    out = []
    for part in parts:
        if _needs_two_staves(part):
            upper = [n for n in part.notes if n.pitch >= SPLIT_PITCH]
            lower = [n for n in part.notes if n.pitch < SPLIT_PITCH]
            staves = [Staff(assign_voices(clean_notes(piece, upper)), prefer="treble"),
                      Staff(assign_voices(clean_notes(piece, lower)), prefer="bass")]
            brace = "brace" if part.program in KEYBOARD_PROGRAMS else "bracket"
        else:
            staves = [Staff(assign_voices(clean_notes(piece, part.notes)))]
            brace = "brace"
        # program 0 is also what a file without instruments says (the corpus's tunes):
        # an unnamed part on it is not labelled "Piano"
        name = part.name or ("" if part.program == 0 else None)
        out.append(PartLayout(name=name, program=part.program, staves=staves, brace=brace))
    return out


# ---------------------------------------------------------------------------------------------
# Ranges
# ---------------------------------------------------------------------------------------------
def instrument_range(program: int) -> tuple[int | None, int | None]:
    """Lowest and highest MIDI pitch music21 gives the General MIDI program's instrument
    (None where it gives none, as for the choir)."""
    from music21 import instrument

    try:
        inst = instrument.instrumentFromMidiProgram(int(program))
    except Exception:  # a program music21 does not know: no range
        return None, None
    low = int(inst.lowestNote.midi) if inst.lowestNote is not None else None
    high = int(inst.highestNote.midi) if inst.highestNote is not None else None
    return low, high


def fit_to_ranges(piece: Piece) -> Piece:
    """The piece with every pitched note moved by octaves into its instrument's range, as a
    player would take a note the instrument does not have: into the octave nearest the
    middle of the part's other notes (drums and notes already inside are left as they are).
    Applied to generated music before it is written, so the score, the MIDI and the audio
    agree."""
    from dataclasses import replace
    from statistics import median

    parts = []
    for part in piece.parts:
        low, high = (None, None) if part.is_drum else instrument_range(part.program)
        if low is None and high is None:
            parts.append(part)
            continue
        lo, hi = low if low is not None else 0, high if high is not None else 127
        inside = [n.pitch for n in part.notes if lo <= n.pitch <= hi]
        centre = median(inside) if inside else (lo + hi) / 2
        notes = []
        for n in part.notes:
            pitch = n.pitch
            if not lo <= pitch <= hi:
                octaves = [pitch + 12 * k for k in range(-10, 11) if lo <= pitch + 12 * k <= hi]
                pitch = min(octaves, key=lambda p: abs(p - centre)) if octaves else pitch
            notes.append(n if pitch == n.pitch else replace(n, pitch=pitch))
        parts.append(replace(part, notes=sorted(notes)))
    return replace(piece, parts=parts)


# ---------------------------------------------------------------------------------------------
# Spelling
# ---------------------------------------------------------------------------------------------
def piece_key(piece: Piece):
    """The piece's key as a music21 Key: the written one, else the project's own estimate
    (``generation.music.key``, the Krumhansl profile the composer uses; music21's analysis
    is the same method at several times the cost), named with the fewer accidentals."""
    from music21 import key

    from generation.music.key import estimate_key

    if piece.key:
        try:
            tonic, mode = piece.key.split()
            return key.Key(tonic, mode.lower())
        except Exception:  # an unreadable key name: estimate instead
            pass
    tonic, mode = estimate_key(piece).split()  # drums are not counted
    tonic = {("C#", "major"): "D-", ("A-", "minor"): "G#"}.get((tonic, mode), tonic)
    return key.Key(tonic, mode)


_TABLES: dict[tuple[str, str], dict[int, str]] = {}


def spelling_table(k) -> dict[int, str]:
    """Pitch class -> note name for the notes of the key (minor: with raised 6th and 7th)."""
    from music21 import scale

    if (k.tonic.name, k.mode) in _TABLES:  # music21's scale realisation is slow
        return _TABLES[(k.tonic.name, k.mode)]

    names = [p.name for p in k.getScale().getPitches()]
    if k.mode == "minor":
        names += [p.name for p in scale.MelodicMinorScale(k.tonic).getPitches()]
    table: dict[int, str] = {}
    for name in names:
        from music21 import pitch

        table.setdefault(pitch.Pitch(name).pitchClass, name)
    _TABLES[(k.tonic.name, k.mode)] = table
    return table


_LETTERS = "CDEFGAB"
# semitones of the perfect, major and minor intervals by the letters between two notes
_PROPER = {0: (0,), 1: (1, 2), 2: (3, 4), 3: (5,), 4: (7,), 5: (8, 9), 6: (10, 11)}


def interval_cost(low: tuple[str, int], high: tuple[str, int]) -> int:
    """0 for a perfect, major or minor interval between two spelled notes ((step letter,
    MIDI pitch), ``low`` the lower), 1 for a diminished one, 2 for an augmented one (or
    worse): a note spelled against its chord (Ab-B, an augmented second) costs more than the
    diminished intervals of a tonal chord (B-F)."""
    steps = (_LETTERS.index(high[0]) - _LETTERS.index(low[0])) % 7
    semis = (high[1] - low[1]) % 12
    proper = _PROPER[steps]
    if semis in proper:
        return 0
    if steps == 0 and semis == 11:  # a diminished octave / unison
        return 1
    return 1 if (semis - proper[0]) % 12 == 11 else 2


def spell(midi: int, table: dict[int, str], sharps: int, direction: int,
          sounding: tuple[int, ...] = ()):
    """A music21 Pitch for ``midi``: the key's name for it; else the name (of the sharp and
    the flat one) that makes the fewest augmented and diminished intervals with the pitches
    ``sounding`` with it (those spelled by the key); where both do as well, a sharp when the
    line rises next (or the key has sharps) and a flat when it falls (or the key has
    flats)."""
    from music21 import pitch

    p = pitch.Pitch(midi=int(midi))
    name = table.get(p.pitchClass)
    if name is None:
        want_flat = direction < 0 or (direction == 0 and sharps < 0)
        want_sharp = direction > 0 or (direction == 0 and sharps > 0)
        acc = p.accidental.name if p.accidental is not None else "natural"
        if (want_flat and acc == "sharp") or (want_sharp and acc == "flat"):
            p = p.getEnharmonic()
        others = [(table[q % 12][0], q) for q in sounding
                  if q % 12 != p.pitchClass and q % 12 in table]
        if others:
            other = p.getEnharmonic()
            if other.accidental is not None and abs(other.accidental.alter) == 1:
                def cost(c):
                    return sum(interval_cost((c.step, midi), o) if o[1] > midi
                               else interval_cost(o, (c.step, midi)) for o in others)
                if cost(other) < cost(p):
                    p = other
        return p
    spelled = pitch.Pitch(name + "4")
    spelled.octave += round((midi - spelled.midi) / 12)
    return spelled


# ---------------------------------------------------------------------------------------------
# music21
# ---------------------------------------------------------------------------------------------
def bar_starts(piece: Piece, end: float) -> list[Fraction]:
    """Beats where bars start, following the meter map, up to and including the first bar
    line at or after ``end``."""
    sigs = piece.time_signatures or [(0.0, 4, 4)]
    starts: list[Fraction] = []
    now = Fraction(0)
    while True:
        starts.append(now)
        if now >= Fraction(end).limit_denominator(1000) and len(starts) > 1:
            return starts
        num, den = _meter_at(piece, float(now))
        length = Fraction(num * 4, den)
        nxt = now + length
        change = [Fraction(at).limit_denominator(48) for at, _, _ in sigs
                  if now < Fraction(at).limit_denominator(48) < nxt]
        now = change[0] if change else nxt


# Ledger lines a reader takes in stride (middle C under a treble staff has one): within
# them a plain treble or bass clef is kept rather than treble-8, which marks a tenor part.
EASY_LEDGER_LINES = 2


def _clef_cost(c, steps: list[int]) -> tuple[int, int, int, int]:
    """(notes beyond four ledger lines, notes beyond two, 1 for the octave clef, ledger lines
    in all) of diatonic steps under clef c: the first decides, the rest break ties."""
    from music21 import clef

    from generation.render.engraving_check import MAX_LEDGER_LINES, ledger_lines

    lines = [ledger_lines(d, c.lowestLine) for d in steps]
    return (sum(n > MAX_LEDGER_LINES for n in lines), sum(n > EASY_LEDGER_LINES for n in lines),
            int(isinstance(c, clef.Treble8vbClef)), sum(lines))


def _clefs():
    from music21 import clef

    return [clef.TrebleClef(), clef.BassClef(), clef.Treble8vbClef()]


def clef_for(pitches: list[int], prefer: str | None = None):
    """The clef a staff of these MIDI pitches reads best in: treble, bass or treble-8,
    whichever leaves fewest notes beyond four ledger lines, then fewest ledger lines in all
    (treble first on a tie). With ``prefer`` ("treble" or "bass", the upper and lower staff
    of a pair), that clef whenever it keeps every note within four ledger lines. music21's
    ``bestClef`` looks at the average pitch only, so a wide generated line got a clef that
    put its low notes five ledger lines down."""
    from music21 import pitch

    clefs = _clefs()
    if prefer == "bass":
        clefs = [clefs[1], clefs[2], clefs[0]]
    if not pitches:
        return clefs[0]
    steps = [pitch.Pitch(midi=m).diatonicNoteNum for m in pitches]
    if prefer and not _clef_cost(clefs[0], steps)[0]:
        return clefs[0]
    return min(clefs, key=lambda c: _clef_cost(c, steps))


def change_clefs_where_needed(measured, staff_clef) -> None:
    """A clef change at the start of a bar whose notes would need more than four ledger
    lines under the staff's clef (a left hand climbing into the treble, a generated bass
    line that leaps up), and back to the staff's clef at the next bar that reads well in
    it. A clef change is what a player expects there; an octave line would move only one
    voice of a two-voice staff."""
    from music21 import clef, stream

    current = staff_clef
    for m in measured.getElementsByClass(stream.Measure):
        steps = [p.diatonicNoteNum for n in m.recurse().notes for p in n.pitches]
        if not steps:
            continue
        wanted = current
        if _clef_cost(current, steps)[0]:
            wanted = min(_clefs(), key=lambda c: _clef_cost(c, steps))
        elif current is not staff_clef and not _clef_cost(staff_clef, steps)[0]:
            wanted = staff_clef
        if type(wanted) is type(current):
            continue
        for old in list(m.getElementsByClass(clef.Clef)):
            m.remove(old)
        m.insert(0, type(wanted)())
        current = wanted


def split_rests_at_beats(measured) -> None:
    """Rests that show the beat, as engravers write them: a rest is cut at each beat line it
    crosses, except inside a whole-bar rest and inside a half of a four-beat bar that it
    covers (``makeRests`` fills each gap with one rest, so a dotted half rest could start on
    the second eighth of a bar)."""
    from music21 import note, stream

    for m in measured.getElementsByClass(stream.Measure):
        ts = m.timeSignature or m.getContextByClass("TimeSignature")
        if ts is None:
            continue
        beat = Fraction(ts.beatDuration.quarterLength)
        bar = Fraction(ts.barDuration.quarterLength)
        for holder in list(m.voices) or [m]:
            for rest in list(holder.getElementsByClass(note.Rest)):
                start = Fraction(rest.offset)
                end = start + Fraction(rest.quarterLength)
                if end - start == bar:
                    continue
                if ts.beatCount == 4 and end - start == 2 * beat and start in (0, 2 * beat):
                    continue
                cuts = [b * beat for b in range(1, int(bar / beat) + 1) if start < b * beat < end]
                if ts.beatCount == 4:  # a half rest for a whole half of the bar it covers
                    for half in ((0, 2 * beat), (2 * beat, bar)):
                        if start <= half[0] and end >= half[1]:
                            cuts = [c for c in cuts if not half[0] < c < half[1]]
                if not cuts:
                    continue
                holder.remove(rest)
                for a, b in zip([start, *cuts], [*cuts, end], strict=True):
                    holder.insert(a, note.Rest(quarterLength=b - a))


def abbreviate(name: str, inst, program: int | None = None) -> str:
    """The label of a part on later systems: ``name`` when short, the instrument's
    abbreviation when ``name`` is the instrument's (music21's name for it or the General MIDI
    name of ``program``), else the first word cut to three letters and a point, with any
    number kept ("Voice 1" -> "Voi. 1")."""
    import pretty_midi

    if len(name) <= 6:
        return name
    own = {(inst.instrumentName or "").strip().lower()}
    if program is not None and 0 <= program < 128:
        own.add(pretty_midi.program_to_instrument_name(program).lower())
    if name.strip().lower() in own:
        return inst.instrumentAbbreviation or name[:3] + "."
    words = name.split()
    return " ".join([words[0][:3] + "."] + [w for w in words[1:] if w.isdigit()])


def _staff_stream(piece: Piece, layout: PartLayout, staff: Staff, staff_index: int,
                  end: Fraction, k, two_staves: bool):
    from music21 import chord, instrument, key, meter, note, stream
    from music21.stream import makeNotation

    ps = stream.PartStaff() if two_staves else stream.Part()
    try:
        inst = instrument.instrumentFromMidiProgram(int(layout.program))
    except Exception:
        inst = instrument.Piano()
    if layout.name is not None:  # "" for no label
        inst.partName = layout.name
        # later systems are labelled with the abbreviation: a short name as it is ("SATB"),
        # the instrument's own for its name ("Church Organ": "P Org"), else the name cut
        # short ("Voice 1": "Voi. 1", not the instrument's "Pno"), none for no name
        short = abbreviate(layout.name, inst, int(layout.program))
        inst.partAbbreviation = inst.instrumentAbbreviation = short
    ps.partName = inst.partName
    ps.insert(0, inst)
    chosen = clef_for([p for v in staff.voices for e in v for p in e.pitches], staff.prefer)
    ps.insert(0, chosen)
    ps.insert(0, key.Key(k.tonic.name, k.mode))
    for at, num, den in piece.time_signatures or [(0.0, 4, 4)]:
        ps.insert(float(Fraction(at).limit_denominator(48)), meter.TimeSignature(f"{num}/{den}"))
    table, sharps = spelling_table(k), k.sharps
    spans = [(n.onset, n.onset + n.duration, n.pitch) for part in piece.parts
             if not part.is_drum for n in part.notes]
    voices = staff.voices or [[]]
    for vi, events in enumerate(voices):
        v = stream.Voice(id=str(vi + 1))
        for i, ev in enumerate(events):
            nxt = events[i + 1] if i + 1 < len(events) else None
            direction = 0 if nxt is None else (max(nxt.pitches) > max(ev.pitches)) - (
                max(nxt.pitches) < max(ev.pitches))
            at = float(ev.onset)
            sounding = tuple(q for a, b, q in spans if a <= at + 1e-6 and b > at + 1e-6) \
                if any(m % 12 not in table for m in ev.pitches) else ()
            pitches = [spell(m, table, sharps, direction, sounding) for m in ev.pitches]
            el = note.Note(pitches[0]) if len(pitches) == 1 else chord.Chord(pitches)
            el.duration.quarterLength = ev.end - ev.onset
            el.volume.velocity = ev.velocity
            v.insert(ev.onset, el)
        if vi == 0:  # the first voice runs to the last bar line, so every staff has every bar
            last = max((e.end for e in events), default=Fraction(0))
            if last < end:
                v.insert(last, note.Rest(quarterLength=end - last))
        ps.insert(0, v)
    measured = ps.makeMeasures()
    first_bar = measured.getElementsByClass(stream.Measure).first()
    if first_bar is not None:  # makeMeasures copies the key into a part with voices twice
        for extra in list(first_bar.getElementsByClass(key.Key))[1:]:
            first_bar.remove(extra)
    measured.makeTies(inPlace=True)
    measured.makeRests(fillGaps=True, timeRangeFromBarDuration=True, inPlace=True)
    first_voice = staff_index * MAX_VOICES + 1  # voices unique within a part: 1-2, 3-4
    for m in measured.getElementsByClass(stream.Measure):
        # makeMeasures numbers the voices of each bar from 0 (verovio then lays voice 0
        # after voice 1); they keep their line's number in every bar
        for i, v in enumerate(m.voices):
            v.id = str(first_voice + i)
        for v in list(m.voices)[1:]:
            if not v.notes:  # a second line only in the bars where it plays
                m.remove(v)
    split_rests_at_beats(measured)
    change_clefs_where_needed(measured, chosen)
    for m in measured.getElementsByClass(stream.Measure):
        if len(m.voices) == 2:  # two lines on a staff: the upper one's stems up
            for v, direction in zip(m.voices, ("up", "down"), strict=True):
                for el in v.notes:
                    el.stemDirection = direction
    measured.makeBeams(inPlace=True)
    makeNotation.makeAccidentalsInMeasureStream(measured)
    return measured


def engrave_piece(piece: Piece):
    """The music21 Score the notation stage writes to MusicXML (see the module docstring)."""
    from music21 import layout as m21layout
    from music21 import metadata, stream, tempo

    score = stream.Score()
    # always a Metadata: without one music21 heads an untitled score "Music21 Fragment"
    score.insert(0, metadata.Metadata())
    score.metadata.title = piece.title or ""

    k = piece_key(piece)
    end_beat = piece.end_beat or piece.bar_beats
    starts = bar_starts(piece, end_beat)
    end = starts[-1]
    parts = []
    # a piece with nothing pitched (drums only) still gets a staff of whole-bar rests
    layouts = layout_piece(piece) or [PartLayout(name="", program=0, staves=[Staff()])]
    for part_layout in layouts:
        two = len(part_layout.staves) == 2
        staves = [_staff_stream(piece, part_layout, s, i, end, k, two)
                  for i, s in enumerate(part_layout.staves)]
        for s in staves:
            score.insert(0, s)
        if two:
            score.insert(0, m21layout.StaffGroup(staves, name=part_layout.name or None,
                                                 symbol=part_layout.brace, barTogether=True))
        parts.extend(staves)
    # music21 keeps a tempo in MusicXML only when it sits inside a Measure.
    measures = list(parts[0].getElementsByClass(stream.Measure))
    for beat, bpm in piece.tempos:
        target = next((m for m in reversed(measures) if m.offset <= beat + 1e-9), None)
        if target is not None:
            target.insert(Fraction(beat - float(target.offset)).limit_denominator(48),
                          tempo.MetronomeMark(number=round(bpm)))
    return score


def engraving_summary(score) -> dict[str, Any]:
    """Parts, staves and voice counts of an engraved score (for logs and reports)."""
    from music21 import stream

    out = {"staves": len(score.parts), "max_voices": 0}
    for p in score.parts:
        for m in p.getElementsByClass(stream.Measure):
            out["max_voices"] = max(out["max_voices"], len(m.voices) or 1)
    return out
