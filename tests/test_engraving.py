"""The notation stage writes scores a musician can read, and the engraving check says when a
score breaks a rule. Engine-only: no Django is imported here.

Each rule of the check is shown failing on a hand-made score that breaks it, then the writer
is shown keeping it on multi-voice, keyboard, four-part and corpus pieces.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

import pytest

from generation.music.notes import Note, Part, Piece, piece_to_music21
from generation.render.engraving import (
    bar_starts,
    clean_notes,
    clef_for,
    engrave_piece,
    fit_to_ranges,
    layout_piece,
    spell,
    spelling_table,
)
from generation.render.engraving_check import check_musicxml, check_piece, check_score
from generation.render.notation import render_notation

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def two_voice_piano() -> Piece:
    """A melody over held bass notes and an inner line that overlaps it: three lines on two
    staves, the kind of texture that made the old writer number voices from 0."""
    melody = [Note(float(b), p, 1.0) for b, p in enumerate([76, 74, 72, 74, 76, 76, 76, 77])]
    inner = [Note(0.0, 67, 2.0), Note(2.0, 65, 1.0), Note(4.0, 64, 1.5), Note(6.0, 65, 2.0)]
    bass = [Note(0.0, 48, 4.0), Note(4.0, 43, 4.0)]
    return Piece(parts=[Part(notes=melody + inner + bass, program=0, name="Piano")],
                 key="C major", title="two voices")


def measure(*elements, ts: str = "4/4"):
    from music21 import meter, stream

    part = stream.Part()
    m = stream.Measure(number=1)
    m.insert(0, meter.TimeSignature(ts))
    for el in elements:
        m.append(el)
    part.append(m)
    score = stream.Score()
    score.insert(0, part)
    return score, part, m


# -- the check finds each broken rule --------------------------------------------------------
def test_the_check_counts_a_voice_numbered_from_zero_as_the_old_writer_wrote_it():
    old = check_score(piece_to_music21(two_voice_piano()))
    assert old["voice_numbers"] > 0
    assert check_piece(two_voice_piano())["problems"] == 0


def test_the_check_counts_a_bar_that_does_not_add_up_to_its_meter():
    from music21 import note

    score, _, _ = measure(note.Note("C4", quarterLength=1), note.Note("D4", quarterLength=1),
                          note.Note("E4", quarterLength=1))
    result = check_score(score)
    assert result["bars_not_adding_up"] == 1 and result["problems"] == 1
    assert "3 of 4 beats" in result["details"][0]


def test_the_check_counts_tuplets_the_meter_does_not_call_for():
    from music21 import note

    quintuplet = [note.Note("C4", quarterLength=Fraction(1, 5)) for _ in range(5)]
    score, _, _ = measure(*quintuplet, note.Rest(quarterLength=3))
    assert check_score(score)["tuplets"] == 5
    triplet = [note.Note("C4", quarterLength=Fraction(1, 3)) for _ in range(3)]
    score, _, _ = measure(*triplet, note.Rest(quarterLength=3))
    assert check_score(score)["tuplets"] == 0  # a triplet in 4/4 is fine...
    score, _, _ = measure(*triplet, note.Rest(quarterLength=2), ts="6/8")
    assert check_score(score)["tuplets"] == 3  # ...but 6/8 divides in three without one


def test_the_check_counts_notes_beyond_four_ledger_lines():
    from music21 import clef, note

    score, _, m = measure(note.Note("C7", quarterLength=2), note.Note("A6", quarterLength=2))
    m.insert(0, clef.TrebleClef())
    # C7 needs 5 ledger lines above the treble staff, A6 only 4
    assert check_score(score)["ledger_notes"] == 1
    score, _, m = measure(note.Note("C4", quarterLength=4))
    m.insert(0, clef.BassClef())
    assert check_score(score)["ledger_notes"] == 0  # middle C: one ledger line above the bass


def test_the_check_counts_notes_outside_the_instruments_range():
    low_violin = Piece(parts=[Part(notes=[Note(0.0, 34, 2.0), Note(2.0, 67, 2.0)], program=40)])
    result = check_piece(low_violin)  # B-flat 1 on a violin, whose lowest string is G3
    assert result["out_of_range"] == 1
    assert "B-1" in " ".join(result["details"])


def test_notes_outside_the_range_are_taken_into_it_by_octaves():
    violin = Part(notes=[Note(0.0, 34, 2.0), Note(2.0, 67, 2.0)], program=40)
    organ = Part(notes=[Note(0.0, 95, 4.0)], program=19)  # B7 on a C2-C6 organ manual
    drums = Part(notes=[Note(0.0, 35, 1.0)], is_drum=True)
    fitted = fit_to_ranges(Piece(parts=[violin, organ, drums]))
    # into the octave nearest the part's other notes: B-flat 4 beside the G4; the organ's
    # lone B7 to B3, the octave nearest the middle of the manual
    assert [n.pitch for n in fitted.parts[0].notes] == [70, 67]
    assert [n.pitch for n in fitted.parts[1].notes] == [59]
    assert fitted.parts[2].notes == drums.notes
    assert check_piece(fitted)["problems"] == 0


def test_a_note_starting_on_a_triplet_ends_on_the_triplet_grid():
    # the model's note on the last triplet of beat 1 that lasts one beat: 2/3 .. 1 2/3, not
    # 13/12 of a beat ending on a sixteenth
    notes = [Note(0.0, 60, 2 / 3), Note(2 / 3, 62, 1.0), Note(2.0, 64, 2.0)]
    piece = Piece(parts=[Part(notes=notes, program=73)])
    timed = clean_notes(piece, notes)
    assert timed[1][:2] == (Fraction(2, 3), Fraction(5, 3))
    assert check_piece(piece)["problems"] == 0


# -- the writer keeps the rules --------------------------------------------------------------
def test_voices_are_numbered_from_one_and_complete_in_every_bar(tmp_path):
    result = render_notation(two_voice_piano(), tmp_path)
    xml = result["musicxml"].read_text()
    voices = {int(v) for v in re.findall(r"<voice>(\d+)</voice>", xml)}
    assert voices and min(voices) == 1 and max(voices) <= 4
    back = check_musicxml(result["musicxml"])
    assert back["problems"] == 0, back["details"]
    assert back["voice_bars"] > back["bars"]  # some bars really carry two voices
    assert result["check"]["problems"] == 0
    # the inner line's silences (beat 4 of bar 1, the half beat after its dotted quarter in
    # bar 2) are written as rests, not left as gaps
    assert xml.count("<rest") >= 2 and "<forward>" not in xml


def test_a_second_voice_appears_only_in_the_bars_where_it_plays():
    from music21 import stream

    notes = [Note(float(b), 72, 1.0) for b in range(12)] + [Note(4.0, 67, 3.0)]
    piece = Piece(parts=[Part(notes=notes, program=73)])  # a flute: one staff
    score = engrave_piece(piece)
    assert len(score.parts) == 1
    voices_per_bar = [len(m.voices) or 1 for m in score.parts[0].getElementsByClass(
        stream.Measure)]
    assert voices_per_bar == [1, 2, 1]
    assert check_score(score)["problems"] == 0


def test_a_note_filling_most_of_a_beat_is_that_beat_not_tuplet_dust(tmp_path):
    seed = [Note(b + 0.0, 60 + b % 5, 0.95) for b in range(8)]
    seed += [Note(8.02, 67, 0.46), Note(8.5, 65, 0.47), Note(9.0, 64, 2.9)]
    piece = Piece(parts=[Part(notes=seed, program=0)], key="C major")
    xml = render_notation(piece, tmp_path)["musicxml"].read_text()
    assert "<time-modification>" not in xml and "<tuplet" not in xml
    lengths = [float(n.duration.quarterLength)
               for n in engrave_piece(piece).recurse().notes]
    assert lengths == [1.0] * 8 + [0.5, 0.5, 3.0]


def test_real_triplets_are_kept_as_triplets():
    third = 1 / 3
    notes = [Note(i * third, 60 + i, third) for i in range(6)] + [Note(2.0, 67, 2.0)]
    piece = Piece(parts=[Part(notes=notes, program=73)])
    timed = clean_notes(piece, notes)
    assert [on for on, _, _ in timed][:6] == [Fraction(i, 3) for i in range(6)]
    result = check_piece(piece)
    assert result["problems"] == 0


def test_a_keyboard_part_with_two_hands_gets_a_grand_staff_with_treble_and_bass(tmp_path):
    from music21 import clef, layout

    score = engrave_piece(two_voice_piano())
    assert len(score.parts) == 2
    clefs = [type(p.recurse().getElementsByClass(clef.Clef)[0]) for p in score.parts]
    assert clefs == [clef.TrebleClef, clef.BassClef]
    groups = list(score.getElementsByClass(layout.StaffGroup))
    assert len(groups) == 1 and groups[0].symbol == "brace"
    xml = render_notation(two_voice_piano(), tmp_path)["musicxml"].read_text()
    assert xml.count("<part id=") == 1 and "<staves>2</staves>" in xml


def test_a_single_line_keeps_one_staff_with_the_clef_its_range_needs():
    from music21 import clef

    def first_clef(notes, program):
        score = engrave_piece(Piece(parts=[Part(notes=notes, program=program)]))
        assert len(score.parts) == 1
        return type(score.parts[0].recurse().getElementsByClass(clef.Clef)[0])

    line = [Note(float(i), p, 1.0) for i, p in enumerate([36, 40, 43, 48, 52, 55, 48, 43])]
    assert first_clef(line, 42) is clef.BassClef  # a cello line
    tenor = [Note(float(i), p, 1.0) for i, p in enumerate([50, 53, 57, 60, 64, 67, 64, 57])]
    assert first_clef(tenor, 52) is clef.Treble8vbClef
    tune = [Note(float(i), p, 1.0) for i, p in enumerate([67, 71, 74, 79, 76, 72, 69, 67])]
    assert first_clef(tune, 0) is clef.TrebleClef  # a folk tune on the piano: no empty staff


@pytest.mark.parametrize(("meter", "rests"), [
    ((4, 4), [0.5, 1.0, 2.0]),  # eighth rest to the beat, a quarter, then a half rest
    ((3, 4), [0.5, 1.0, 1.0]),
    ((6, 8), [1.0, 1.5]),  # to the dotted-quarter beat, then a dotted quarter rest
])
def test_rests_are_cut_at_the_beats_they_cross(meter, rests):
    piece = Piece(parts=[Part(notes=[Note(0.0, 72, 0.5)], program=73)],
                  time_signatures=[(0.0, *meter)])
    score = engrave_piece(piece)
    assert [float(r.quarterLength) for r in score.recurse().getElementsByClass("Rest")] == rests


def test_a_wide_line_gets_the_clef_that_keeps_it_within_four_ledger_lines():
    from music21 import clef

    # a generated "bass" from A2 up to E5: the bass clef would need 5 ledger lines for E5
    # and the treble clef 5 for A2; treble-8 needs 2 below and 3 above
    assert isinstance(clef_for([45, 50, 55, 60, 64, 76]), clef.Treble8vbClef)
    assert isinstance(clef_for([40, 43, 48, 52, 55, 60]), clef.BassClef)
    assert isinstance(clef_for([60, 64, 67, 72, 79]), clef.TrebleClef)
    assert isinstance(clef_for([]), clef.TrebleClef)


def test_a_line_that_leaps_out_of_its_clef_changes_clef_for_that_bar_and_back():
    from music21 import clef

    low = [36, 40, 43, 48]
    # C2 to G6: no one clef holds both within four ledger lines
    cello = [Note(float(i), p, 1.0) for i, p in enumerate(low + low + [84, 86, 88, 91] + low)]
    score = engrave_piece(Piece(parts=[Part(notes=cello, program=42)]))
    assert len(score.parts) == 1  # one staff: a cello line is never split over two
    clefs = [(m.number, type(c).__name__) for m in score.parts[0].getElementsByClass("Measure")
             for c in m.getElementsByClass(clef.Clef)]
    assert clefs == [(1, "BassClef"), (3, "TrebleClef"), (4, "BassClef")]
    assert check_score(score)["problems"] == 0


def test_four_voices_go_on_two_staves_soprano_alto_above_tenor_bass_below():
    from music21 import clef, stream

    def line(pitches):
        return [Note(float(i), p, 1.0) for i, p in enumerate(pitches)]

    parts = [Part(notes=line(p), program=19) for p in (  # order shuffled on purpose
        [55, 55, 57, 55], [72, 74, 76, 72], [43, 47, 48, 43], [67, 67, 67, 64])]
    piece = Piece(parts=parts, key="C major")
    layout = layout_piece(piece)
    assert len(layout) == 1 and len(layout[0].staves) == 2
    score = engrave_piece(piece)
    upper, lower = score.parts
    assert isinstance(upper.recurse().getElementsByClass(clef.Clef)[0], clef.TrebleClef)
    assert isinstance(lower.recurse().getElementsByClass(clef.Clef)[0], clef.BassClef)
    m_up = upper.getElementsByClass(stream.Measure)[0]
    m_low = lower.getElementsByClass(stream.Measure)[0]
    assert [v.id for v in m_up.voices] == ["1", "2"] and [v.id for v in m_low.voices] == [
        "3", "4"]
    soprano = [n.pitch.midi for n in m_up.voices[0].notes]
    bass = [n.pitch.midi for n in m_low.voices[1].notes]
    assert soprano == [72, 74, 76, 72] and bass == [43, 47, 48, 43]
    assert [n.stemDirection for n in m_up.voices[0].notes] == ["up"] * 4
    assert check_score(score)["problems"] == 0


@pytest.mark.parametrize(("key", "midi", "direction", "name"), [
    ("E major", 63, 0, "D#"),  # the leading tone of E major, not E-flat
    ("F major", 70, 0, "B-"),
    ("a minor", 68, 0, "G#"),  # raised seventh in minor
    ("C major", 61, 1, "C#"),  # chromatic, rising to D
    ("C major", 61, -1, "D-"),  # chromatic, falling to C
    ("B- major", 66, 0, "G-"),  # chromatic in a flat key
])
def test_accidentals_are_spelled_by_the_key_and_the_line(key, midi, direction, name):
    from music21 import key as m21key

    tonic, mode = key.split()
    k = m21key.Key(tonic, mode)
    p = spell(midi, spelling_table(k), k.sharps, direction)
    assert p.name == name and p.midi == midi


@pytest.mark.parametrize(("midi", "direction", "sounding", "name"), [
    (68, -1, (52, 64, 71), "G#"),  # in an E major chord, though the line falls next
    (68, 1, (65, 72), "A-"),  # in an F minor chord, though the line rises next
    (66, 0, (62, 69, 72), "F#"),  # the third of D7
    (70, 1, (67, 74, 77), "B-"),  # the third of G minor
    (61, 1, (), "C#"),  # nothing sounding with it: the line decides
])
def test_a_chromatic_note_is_spelled_by_the_chord_it_sounds_in(midi, direction, sounding,
                                                                 name):
    from music21 import key as m21key

    k = m21key.Key("C", "major")
    p = spell(midi, spelling_table(k), k.sharps, direction, sounding)
    assert p.name == name and p.midi == midi


def test_a_whole_score_spells_a_secondary_dominant_by_its_chord():
    # C major: C - E7 (G# falling to G... in the alto) - A minor - C
    sop = [72, 71, 72, 72]
    alto = [67, 68, 64, 67]
    bass = [48, 52, 45, 48]
    parts = [Part(notes=[Note(float(i), p, 1.0) for i, p in enumerate(line)], program=0)
             for line in (sop, alto, bass)]
    names = [n.pitch.name for n in engrave_piece(Piece(parts=parts, key="C major"))
             .recurse().notes if n.pitch.midi == 68]
    assert names == ["G#"]


def test_the_written_key_spells_a_whole_score():
    piece = Piece(parts=[Part(notes=[Note(0.0, 64, 1.0), Note(1.0, 63, 1.0), Note(2.0, 64, 2.0)],
                              program=73)], key="E major")
    names = [n.pitch.name for n in engrave_piece(piece).recurse().notes]
    assert names == ["E", "D#", "E"]


def test_without_a_written_key_the_estimated_one_spells_the_score():
    scale = [64, 66, 68, 69, 71, 73, 75, 76, 75, 73, 71, 69, 68, 66, 64, 64]  # E major
    piece = Piece(parts=[Part(notes=[Note(float(i), p, 1.0) for i, p in enumerate(scale)],
                              program=73)])
    score = engrave_piece(piece)
    names = {n.pitch.name for n in score.recurse().notes}
    assert names == {"E", "F#", "G#", "A", "B", "C#", "D#"}
    assert score.recurse().getElementsByClass("KeySignature").first().sharps == 4


# -- corpus and generated-like pieces --------------------------------------------------------
@pytest.fixture(scope="module")
def corpus_sample():
    from generation.music.corpus import load_corpus

    c = load_corpus()
    picked = {}
    for info in c.pieces:
        if info.style not in picked or len(picked[info.style]) < 2:
            picked.setdefault(info.style, []).append(info.id)
    return [(style, c.piece(i)) for style, ids in sorted(picked.items()) for i in ids]


def test_corpus_pieces_engrave_without_problems(corpus_sample):
    assert len({style for style, _ in corpus_sample}) >= 5
    for style, piece in corpus_sample:
        result = check_piece(piece)
        assert result["problems"] == 0, (style, piece.title, result["details"])


def test_a_generated_like_organ_chord_part_is_two_staves_with_two_voices_each():
    # what a chorale transfer writes: one organ part with four notes at once, notes that
    # stop a little short of the beat and some that overlap the next chord
    chords = [(60, 64, 67, 48), (62, 65, 69, 50), (64, 67, 72, 52), (59, 62, 67, 43)] * 3
    notes = []
    for i, ch in enumerate(chords):
        for j, p in enumerate(ch):
            notes.append(Note(i + 0.02 * j, p, 0.93 if j else 1.1))
    piece = Piece(parts=[Part(notes=notes, program=19)], time_signatures=[(0.0, 3, 4)])
    score = engrave_piece(piece)
    assert len(score.parts) == 2
    result = check_score(score)
    assert result["problems"] == 0, result["details"]


# -- the timemap keeps time with the audio ---------------------------------------------------
def bar_onsets_ms(timemap):
    return [e["tstamp"] for e in timemap if "measureOn" in e]


@pytest.mark.parametrize("meter_map, tempos", [
    ([(0.0, 4, 4)], [(0.0, 96.0)]),
    ([(0.0, 3, 4)], [(0.0, 72.5)]),
    ([(0.0, 6, 8)], [(0.0, 132.0)]),
    ([(0.0, 4, 4)], [(0.0, 120.0), (8.0, 60.0), (14.0, 97.3)]),
    ([(0.0, 4, 4), (8.0, 3, 4)], [(0.0, 100.0)]),
])
def test_the_timemap_bar_onsets_are_the_audio_times_of_the_bars(tmp_path, meter_map, tempos):
    notes = []
    for b in range(0, 22):  # two lines with different rhythms, so the staff has two voices
        notes.append(Note(float(b), 72 + b % 3, 1.0))
        if b % 3 == 0:
            notes.append(Note(float(b) + 0.5, 64, 2.5))
    piece = Piece(parts=[Part(notes=notes, program=73)], tempos=tempos,
                  time_signatures=meter_map, title="timed")
    result = render_notation(piece, tmp_path)
    timemap = json.loads(result["timemap"].read_text())
    starts = [float(b) for b in bar_starts(piece, piece.end_beat)[:-1]]
    expected = [piece.beat_to_seconds(b) * 1000 for b in starts]
    assert bar_onsets_ms(timemap) == expected
    assert result["check"]["problems"] == 0


def test_evaluate_models_reports_the_engraving_check_on_generated_and_corpus_pieces(
    monkeypatch, tmp_path
):
    from generation.ml import evaluate

    low_violin = Piece(parts=[Part(notes=[Note(0.0, 34, 2.0), Note(2.0, 67, 2.0)], program=40)])
    monkeypatch.setattr(evaluate, "_generations", lambda quick: [
        {"piece": low_violin}, {"piece": two_voice_piano()}])
    section = evaluate.engraving_section(quick=True)
    # written as the pipeline writes them (ranges fitted): nothing for a musician to trip on
    assert section["generated"]["pieces"] == 2 and section["generated"]["problems"] == 0
    assert section["corpus"]["pieces"] == 10 and section["corpus"]["bars"] > 100
    assert section["corpus"]["problems"] == 0, section["corpus"]["details"]
    path = tmp_path / "evaluation.md"
    evaluate.write_report({"quick": True, "engraving": section}, path)
    text = path.read_text()
    assert "## Engraving check" in text and "| generated | 2 |" in text


@pytest.mark.parametrize("piece", [
    # drums only: audio-only parts leave a staff of whole-bar rests
    Piece(parts=[Part(notes=[Note(float(i), 36, 0.25) for i in range(8)], is_drum=True)]),
    Piece(parts=[Part(notes=[], program=0)]),
    # 5/8 with a note near a triplet position that crosses the bar line, and a tempo change
    Piece(parts=[Part(notes=[Note(0.1, 61, 0.07), Note(0.37, 63, 2.61), Note(3.9, 66, 0.3)],
                      program=40)], time_signatures=[(0.0, 5, 8)],
          tempos=[(0.0, 77.7), (1.3, 140.0)]),
], ids=["drums-only", "empty", "five-eight"])
def test_odd_pieces_still_engrave_without_problems(tmp_path, piece):
    result = render_notation(piece, tmp_path)
    assert result["pages"] >= 1
    assert result["check"]["problems"] == 0
    assert check_musicxml(result["musicxml"])["problems"] == 0


def test_an_untitled_piece_gets_no_placeholder_title(tmp_path):
    from generation.music.notes import Note, Part, Piece
    from generation.render.notation import render_notation

    piece = Piece(parts=[Part([Note(0.0, 60, 1.0), Note(1.0, 62, 3.0)])])
    xml = render_notation(piece, tmp_path)["musicxml"].read_text()
    assert "Music21 Fragment" not in xml
    titled = Piece(parts=piece.parts, title="Rainy evening")
    assert "Rainy evening" in render_notation(titled, tmp_path / "t")["musicxml"].read_text()


def test_a_melody_around_middle_c_keeps_the_treble_clef():
    """C4-A4 reads in treble with one ledger line; treble-8 is a tenor's clef."""
    from music21 import clef

    from generation.render.engraving import clef_for

    assert isinstance(clef_for([60, 62, 64, 65, 67, 69, 71, 69, 67, 60]), clef.TrebleClef)
    assert isinstance(clef_for([48, 50, 52, 55, 57, 60, 62, 64, 67]), clef.Treble8vbClef)


def test_later_systems_label_a_part_by_its_own_name_cut_short():
    from music21 import instrument

    from generation.render.engraving import abbreviate

    piano = instrument.instrumentFromMidiProgram(0)
    assert abbreviate("Voice 1", piano, 0) == "Voi. 1"  # not the piano's "Pno"
    assert abbreviate("Accompaniment", piano, 0) == "Acc."
    assert abbreviate("SATB", piano, 0) == "SATB"
    organ = instrument.instrumentFromMidiProgram(19)
    assert abbreviate("Church Organ", organ, 19) == organ.instrumentAbbreviation
