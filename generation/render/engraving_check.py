"""An engraving check: does a written score read as a musician expects?

``check_score`` counts, over every staff of a music21 Score (as written by
``generation.render.engraving.engrave_piece`` or parsed back from any MusicXML file):

- ``voice_numbers``: voices of a bar numbered other than 1, 2, ... (MusicXML's voice 0 is
  what makes verovio lay a second voice after the first, so bars look overfull and the
  timemap drifts) or sharing a number;
- ``bars_not_adding_up``: (staff, bar, voice) whose notes and rests do not add up to the bar's
  meter (a pickup or a closing bar shortened on purpose, written with music21's
  ``paddingLeft`` / ``paddingRight``, counts its written length);
- ``tuplets``: notes or rests in a tuplet the meter does not call for: anything but a plain
  triplet (3 in the time of 2) in a simple meter; compound meters need none;
- ``ledger_notes``: notes more than ``MAX_LEDGER_LINES`` ledger lines above or below their
  staff under the clef in force (an octave line, music21's ``Ottava``, moves them back);
- ``out_of_range``: notes outside the written instrument's range (music21's ``lowestNote`` /
  ``highestNote``; instruments without a range in music21, such as the choir, are not
  checked).

``problems`` is their sum; ``details`` names the first few, bar by bar. No Django here.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

MAX_LEDGER_LINES = 4
MAX_DETAILS = 20
COUNTS = ("voice_numbers", "bars_not_adding_up", "tuplets", "ledger_notes", "out_of_range")


def _bar_length(m) -> Fraction:
    ts = m.timeSignature or m.getContextByClass("TimeSignature")
    full = Fraction(ts.barDuration.quarterLength) if ts is not None else Fraction(4)
    return full - Fraction(m.paddingLeft) - Fraction(m.paddingRight)


def _voice_sums(m) -> list[tuple[str, Fraction]]:
    if m.voices:
        return [(str(v.id), sum((Fraction(e.quarterLength) for e in v.notesAndRests
                                 if not e.duration.isGrace), Fraction(0)))
                for v in m.voices]
    return [("1", sum((Fraction(e.quarterLength) for e in m.notesAndRests
                       if not e.duration.isGrace), Fraction(0)))]


def _tuplet_ok(tuplet, compound: bool) -> bool:
    return (not compound and tuplet.numberNotesActual == 3 and tuplet.numberNotesNormal == 2)


def ledger_lines(diatonic: int, lowest_line: int) -> int:
    """Ledger lines a note needs on a five-line staff whose bottom line is ``lowest_line``
    (music21 diatonic note numbers: one per letter name, 7 to the octave)."""
    top = lowest_line + 8
    if diatonic > top:
        return (diatonic - top) // 2
    if diatonic < lowest_line:
        return (lowest_line - diatonic) // 2
    return 0


def _instrument_range(part):
    from music21 import instrument

    # the instrument may sit inside the first bar, where getInstrument() does not look
    inst = part.recurse().getElementsByClass(instrument.Instrument).first()
    if inst is None:
        return None, None
    low, high = inst.lowestNote, inst.highestNote
    if low is None and high is None and inst.midiProgram is not None:
        try:
            known = instrument.instrumentFromMidiProgram(int(inst.midiProgram))
            low, high = known.lowestNote, known.highestNote
        except Exception:  # a program music21 does not know: no range to check
            pass
    return low, high


def check_score(score) -> dict[str, Any]:
    """Counts of engraving problems in a music21 Score (see the module docstring)."""
    from music21 import clef, spanner, stream

    counts: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    counts.update(staves=0, bars=0, voice_bars=0, notes=0)
    details: list[str] = []

    def flag(kind: str, where: str) -> None:
        counts[kind] += 1
        if len(details) < MAX_DETAILS:
            details.append(f"{kind}: {where}")

    for si, part in enumerate(score.parts, start=1):
        counts["staves"] += 1
        low, high = _instrument_range(part)
        shifted: dict[int, int] = {}  # id(note) -> octaves an Ottava shifts its written pitch
        for ott in part.recurse().getElementsByClass(spanner.Ottava):
            octaves = {"8va": 1, "15ma": 2, "8vb": -1, "15mb": -2}.get(ott.type, 0)
            for el in ott.getSpannedElements():
                shifted[id(el)] = octaves
        for m in part.getElementsByClass(stream.Measure):
            counts["bars"] += 1
            where = f"staff {si} ({part.partName or '?'}), bar {m.number}"
            expected = _bar_length(m)
            ts = m.timeSignature or m.getContextByClass("TimeSignature")
            compound = ts is not None and ts.numerator % 3 == 0 and ts.numerator > 3
            ids = [str(v.id) for v in m.voices]
            for vid in ids:
                if not vid.isdigit() or int(vid) < 1 or ids.count(vid) > 1:
                    flag("voice_numbers", f"{where}: voice {vid!r}")
            for voice, total in _voice_sums(m):
                counts["voice_bars"] += 1
                if total != expected:
                    flag("bars_not_adding_up",
                         f"{where}, voice {voice}: {float(total):g} of {float(expected):g} beats")
            for el in m.recurse().notesAndRests:
                if any(not _tuplet_ok(t, compound) for t in el.duration.tuplets):
                    t = el.duration.tuplets[0]
                    flag("tuplets", f"{where}: {t.numberNotesActual}:{t.numberNotesNormal}")
                if el.isRest:
                    continue
                counts["notes"] += 1
                cl = el.getContextByClass(clef.Clef)
                lowest = getattr(cl, "lowestLine", None) if cl is not None else None
                for p in el.pitches:
                    written = p.diatonicNoteNum - 7 * shifted.get(id(el), 0)
                    if lowest is not None and ledger_lines(written, lowest) > MAX_LEDGER_LINES:
                        flag("ledger_notes",
                             f"{where}: {p.nameWithOctave} has "
                             f"{ledger_lines(written, lowest)} ledger lines")
                    if (low is not None and p.ps < low.ps) or (high is not None
                                                               and p.ps > high.ps):
                        flag("out_of_range", f"{where}: {p.nameWithOctave} outside "
                             f"{low.nameWithOctave if low else '?'}-"
                             f"{high.nameWithOctave if high else '?'}")
    counts["problems"] = sum(counts[k] for k in COUNTS)
    counts["details"] = details
    return counts


def check_musicxml(path: str | Path) -> dict[str, Any]:
    """``check_score`` of a MusicXML file as music21 reads it back."""
    from music21 import converter

    return check_score(converter.parse(str(path)))


def check_piece(piece) -> dict[str, Any]:
    """``check_score`` of a Piece as the notation stage engraves it."""
    from generation.render.engraving import engrave_piece

    return check_score(engrave_piece(piece))


def add_counts(total: dict[str, Any], one: dict[str, Any]) -> dict[str, Any]:
    """Sum the counts of several checks (details are kept up to MAX_DETAILS)."""
    for k, v in one.items():
        if isinstance(v, int):
            total[k] = total.get(k, 0) + v
    total.setdefault("details", [])
    total["details"] = (total["details"] + list(one.get("details", [])))[:MAX_DETAILS]
    return total
