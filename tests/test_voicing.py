"""The chorale's voicing rules (generation.music.voicing) and the harmonizer that keeps them."""


import numpy as np
import pytest

from generation.music.critic import critique
from generation.music.notes import Note, Part, Piece
from generation.music.voicing import CHORALE, Voicing, faults

PITCHES = np.arange(30, 90)


def _ok(v, current, attacked=None, before=None):
    current = np.array([current])
    attacked = np.zeros_like(current, dtype=bool) if attacked is None else np.array([attacked])
    before = None if before is None else np.array([before])
    return {int(p) for p in PITCHES[CHORALE.allowed(v, PITCHES, current, attacked, before)[0]]}


def test_the_alto_stays_under_the_soprano_within_an_octave_and_its_range():
    ok = _ok(1, [72, -1, -1, -1])
    assert ok == set(range(60, 72))  # C4..B4: below C5, an octave at most, no unison
    assert _ok(1, [79, -1, -1, -1]) == set(range(67, 75))  # the alto's range ends at D5


def test_a_lower_voice_does_not_clash_with_a_voice_attacking_above_it():
    ok = _ok(1, [73, -1, -1, -1], attacked=[True, False, False, False])  # soprano C#5
    assert 72 not in ok and 62 not in ok and 61 in ok  # C5 (m2) and D4 (M7) clash, C#4 not
    held = _ok(1, [73, -1, -1, -1], attacked=[False, False, False, False])
    assert 62 in held  # against a held note it may (a passing dissonance)


def test_no_parallel_fifths_or_octaves_against_a_voice_above():
    # soprano G4 -> A4 over an alto C4: the alto may not go to D4 (fifths), it may stay
    # or move the other way
    ok = _ok(1, [69, 60, -1, -1], attacked=[True, False, False, False], before=[67, 60, -1, -1])
    assert 62 not in ok and 60 in ok and 59 in ok
    # soprano C5 -> D5 over a tenor C4 (octave + ...): tenor to D4 would be parallel octaves
    ok = _ok(2, [74, 65, -1, -1], attacked=[True, True, False, False],
             before=[72, 64, 60, -1])
    assert 62 not in ok


def test_no_voice_leaps_a_tritone_a_seventh_or_past_an_octave():
    before = [76, 67, 60, 48]  # the bass on C3
    ok = _ok(3, [76, 67, 60, -1], before=before)
    assert {41, 43, 53, 55} <= ok  # down a fifth, a fourth; up a fifth, a fourth
    assert not ok & {42, 54, 38, 58, 59}  # tritones and sevenths either way
    high = _ok(0, [-1, -1, -1, -1], before=[60, 55, 48, 40])
    assert 72 in high and 73 not in high and 66 not in high  # the soprano: an octave at most
    current = np.array([[76, 67, 60, -1]])
    loose = CHORALE.allowed(3, PITCHES, current, np.zeros_like(current, dtype=bool),
                            np.array([before]), leaps=False)[0]
    assert 54 in {int(p) for p in PITCHES[loose]}  # without the leap rule the tritone is back


def test_minor_cadences_tell_v_from_v_with_its_leading_tone():
    from generation.music.voicing import minor_cadences

    def cadence(alto):  # C minor: i - v|V - i, the last chord under a half note
        lines = [[72, 74, 72], [67, alto, 67], [63, 62, 63], [48, 43, 48]]
        return Piece(parts=[Part([Note(float(i), p, 2.0 if i == 2 else 1.0)
                                  for i, p in enumerate(line)]) for line in lines],
                     time_signatures=[(0.0, 4, 4)])

    assert minor_cadences(cadence(70)) == (1, 0)  # Bb: v - i
    assert minor_cadences(cadence(71)) == (0, 1)  # B natural: V - i
    assert minor_cadences(cadence(70), tonic=2) == (0, 0)  # not a cadence in D minor


def test_only_the_top_voice_may_rest_while_it_sings():
    current = np.array([[70, 62, 55, 48], [-1, 62, 55, 48]])
    assert CHORALE.may_rest(0, current).all()
    assert CHORALE.may_rest(2, current).tolist() == [False, True]
    ok = CHORALE.allowed(2, PITCHES, current, np.zeros_like(current, dtype=bool))
    assert ok[0].any() and not ok[1].any()  # under a silent top voice: silence


def test_the_harmony_falls_silent_with_the_melody(random_engine):
    from generation.ml.infill import harmonize

    # two phrases with a beat of rest between them
    notes = [Note(float(i), p, 1.0) for i, p in enumerate([67, 69, 71, 72, 71, 69, 67])]
    notes += [Note(8.0 + i, p, 1.0) for i, p in enumerate([71, 72, 74, 72, 71, 69, 67, 67])]
    tune = Piece(parts=[Part(notes, program=0)], time_signatures=[(0.0, 4, 4)], key="G major")
    out = harmonize(tune, "chorale", seed=1, model=random_engine, candidates=2)
    for part in out.parts[1:]:
        assert part.notes
        assert not any(n.onset < 8.0 - 1e-9 and n.onset + n.duration > 7.0 + 1e-9
                       for n in part.notes)


def test_faults_count_bachs_kind_of_slips():
    def part(pitches):
        return Part([Note(float(i), p, 1.0) for i, p in enumerate(pitches)])

    good = Piece(parts=[part([72, 74, 76, 77]), part([64, 65, 67, 69]), part([55, 57, 60, 60]),
                        part([48, 50, 48, 53])], time_signatures=[(0.0, 4, 4)])
    assert set(faults(good).values()) == {0.0}
    crossed = Piece(parts=[part([72, 74, 76, 77]), part([64, 76, 79, 69]),
                           part([55, 57, 60, 60]), part([36, 50, 48, 53])],
                    time_signatures=[(0.0, 4, 4)])
    f = faults(crossed)
    assert f["out_of_range"] > 0 and f["crossed"] + f["unison"] > 0 and f["wide"] > 0
    leaping = Piece(parts=[*good.parts[:3], part([48, 59, 48, 53])],  # C3-B3: a seventh
                    time_signatures=[(0.0, 4, 4)])
    assert faults(leaping)["leap"] == 2 / 11  # up a seventh and back, of 11 moves


def test_shifted_rules_move_every_range():
    up = CHORALE.shifted(5)
    assert isinstance(up, Voicing) and up.ranges[3] == (CHORALE.ranges[3][0] + 5,
                                                       CHORALE.ranges[3][1] + 5)
    assert up.max_gap == CHORALE.max_gap


@pytest.fixture
def random_engine(random_grid_engine):
    return random_grid_engine


@pytest.mark.parametrize(("key", "pitches"), [
    ("G major", [67, 69, 71, 72, 74, 72, 71, 69, 67, 66, 67, 67]),
    ("E- major", [63, 65, 67, 68, 70, 68, 67, 65, 63, 62, 63, 63]),
    # a tune in the bass clef: the voices move down with it
    ("D minor", [50, 52, 53, 55, 57, 55, 53, 52, 50, 49, 50, 50]),
])
def test_the_harmonizer_keeps_the_rules_whatever_the_model_prefers(random_engine, key,
                                                                   pitches):
    from generation.ml.infill import _voicing_for, harmonize
    from generation.music.grid import shift_to_c

    notes = [Note(float(i), p, 1.0) for i, p in enumerate(pitches)]
    tune = Piece(parts=[Part(notes, program=0)], time_signatures=[(0.0, 4, 4)], key=key)
    out = harmonize(tune, "chorale", seed=2, model=random_engine, candidates=3)
    assert out.parts[0].notes == notes and all(p.notes for p in out.parts[1:])
    rules = _voicing_for(notes, 0)
    f = faults(out, rules)
    assert f["crossed"] == f["unison"] == f["wide"] == f["clash"] == 0
    assert f["silent_under_top"] == 0 and f["out_of_range"] == 0 and f["leap"] == 0
    assert critique(out).parallels == 0
    octaves = min(1, max(-1, round((np.median(pitches) - 71) / 12)))
    assert rules.ranges == CHORALE.shifted(12 * octaves).ranges
    assert (octaves == -1) == (pitches[0] < 60) and shift_to_c(key) in range(-6, 6)


def test_chord_faults_find_empty_fifths_and_clusters():
    from generation.music.voicing import chord_faults

    def part(pitches):
        return Part([Note(float(i), p, 1.0) for i, p in enumerate(pitches)])

    # beat 1 C major (full), beat 2 an empty fifth C-G, beat 3 E-F-G over C (a cluster),
    # beat 4 G7 in root position (full, not a cluster)
    piece = Piece(parts=[part([72, 67, 67, 71]), part([67, 60, 65, 65]),
                         part([64, 55, 64, 62]), part([48, 48, 48, 43])],
                  time_signatures=[(0.0, 4, 4)])
    assert chord_faults(piece) == (1, 1, 4)


def test_composed_and_continued_chorales_keep_the_rules_too(random_engine):
    from generation.ml.compose_v2 import compose, continue_piece

    piece = compose({"mode": "minor"}, "chorale", bars=3, seed=4, model=random_engine,
                    candidates=2)[0].piece
    f = faults(piece)
    assert f["crossed"] == f["unison"] == f["wide"] == f["clash"] == 0
    assert critique(piece).parallels == 0
    more = continue_piece(piece, bars=2, seed=5, model=random_engine, candidates=2)[0].piece
    new = Piece(parts=[Part([n for n in p.notes if n.onset >= 3 * piece.bar_beats])
                       for p in more.parts], time_signatures=more.time_signatures)
    assert len(more.parts) == 4 and all(p.notes for p in new.parts)
    g = faults(new)
    assert g["crossed"] == g["unison"] == g["wide"] == g["clash"] == 0


def test_a_chorale_asked_for_a_high_register_stays_in_its_voices_ranges(random_engine):
    from generation.ml.compose_v2 import compose

    for band in ("low", "middle", "high"):
        piece = compose({"register_band": band}, "chorale", bars=2, seed=7,
                        model=random_engine, candidates=2)[0].piece
        assert faults(piece)["out_of_range"] == 0, band


def test_the_harmony_holds_under_a_long_melody_note(random_engine):
    from generation.ml.infill import harmonize
    from generation.music.voicing import moving_under_held

    pitches = [67, 69, 71, 72]
    notes = [Note(float(i), p, 1.0) for i, p in enumerate(pitches)]
    notes += [Note(4.0, 74, 4.0)]  # a whole note: a fermata's length
    notes += [Note(8.0 + i, p, 1.0) for i, p in enumerate([72, 71, 69, 67])]
    tune = Piece(parts=[Part(notes, program=0)], time_signatures=[(0.0, 4, 4)], key="G major")
    out = harmonize(tune, "chorale", seed=4, model=random_engine, candidates=2)
    assert moving_under_held(out) == 0
    for part in out.parts[1:]:
        assert not any(4.0 < n.onset < 8.0 for n in part.notes)


def test_six_fours_and_wobbles_are_counted():
    from generation.music.voicing import six_fours, wobbles

    def part(pitches, durs=None):
        durs = durs or [1.0] * len(pitches)
        onsets = np.cumsum([0.0] + durs[:-1])
        return Part([Note(float(o), p, d) for o, p, d in zip(onsets, pitches, durs,
                                                              strict=True)])

    # C major on beat 1, C/G (a 6/4) on beat 2 under a half note, G7 as a 4/2 (F in the
    # bass) on beat 4: one 6/4, at a long top note; the 4/2 is not one
    piece = Piece(parts=[part([72, 72, 71], [1.0, 2.0, 1.0]), part([67, 64, 67], [1.0, 2.0, 1.0]),
                         part([64, 60, 62], [1.0, 2.0, 1.0]), part([48, 55, 53], [1.0, 2.0, 1.0])],
                  time_signatures=[(0.0, 4, 4)])
    assert six_fours(piece) == (2, 1)  # beats 2 and 3 (the held 6/4), one where it begins
    rocking = Piece(parts=[part([72] * 6), part([64] * 6), part([60] * 6),
                           part([41, 43, 41, 43, 41, 40])], time_signatures=[(0.0, 4, 4)])
    assert wobbles(rocking) == 2 and wobbles(piece) == 0


def test_phrase_end_chords_want_a_plain_triad_as_the_long_note_ends():
    from generation.music.voicing import phrase_end_chords

    def piece(alto_end):  # a half note in the soprano over C major, then over ...
        lines = [[(72, 2.0), (74, 2.0)], [(67, 2.0), (alto_end, 2.0)], [(64, 2.0), (59, 2.0)],
                 [(48, 2.0), (43, 2.0)]]
        return Piece(parts=[Part([Note(2.0 * i, p, d) for i, (p, d) in enumerate(line)])
                            for line in lines], time_signatures=[(0.0, 4, 4)])

    assert phrase_end_chords(piece(67)) == (2, 2)  # C major, then G major (G-B-D-G)
    assert phrase_end_chords(piece(65)) == (2, 1)  # then G7: not a plain triad
    assert phrase_end_chords(piece(69)) == (2, 1)  # then G-A-B-D: not one either


def test_cadences_count_long_notes_reached_by_a_root_moving_a_fifth():
    from generation.music.voicing import cadences, chord_root

    assert chord_root([71, 67, 62, 43]) == 7  # G major, root position
    assert chord_root([72, 67, 64, 52]) == 0  # C/E
    assert chord_root([71, 65, 62, 43]) == 7  # G7
    assert chord_root([72, 65, 62, 43]) is None  # G-D-F-C: a suspended fourth
    assert chord_root([74, 69, 67, 48]) is None  # C-G-A-D: no third

    def phrase(approach):  # beat 1 approach chord, beats 2-3 a half note on C major
        lines = [[(approach[0], 1.0), (72, 2.0)], [(approach[1], 1.0), (67, 2.0)],
                 [(approach[2], 1.0), (64, 2.0)], [(approach[3], 1.0), (48, 2.0)]]
        return Piece(parts=[Part([Note(o, p, d) for o, (p, d) in zip((0.0, 1.0), line,
                                                                      strict=True)])
                            for line in lines], time_signatures=[(0.0, 3, 4)])

    assert cadences(phrase((71, 67, 62, 43))) == (1, 1)  # V - I
    assert cadences(phrase((72, 65, 57, 53))) == (1, 1)  # IV - I
    assert cadences(phrase((74, 69, 65, 50))) == (1, 0)  # ii - I: no cadence


def test_no_fifths_from_one_beat_to_the_next_over_a_passing_note():
    from generation.music.voicing import beat_parallels

    # beat 1: tenor G3 over bass C3 (a fifth); the tenor passes through A3; on beat 2 the
    # bass goes to D3: the tenor may not be on A3 (a fifth again, both having risen)
    current = np.array([[76, 72, -1, -1]])
    beat = np.array([[76, 72, 55, 48]])
    frame = np.array([[76, 72, 57, 48]])
    ok = CHORALE.allowed(3, PITCHES, np.array([[76, 72, 57, -1]]),
                         np.zeros_like(current, dtype=bool), frame, beat_before=beat)[0]
    allowed = {int(p) for p in PITCHES[ok]}
    assert 50 not in allowed and 45 in allowed  # D3 under A3 after C3 under G3; A2 is fine
    loose = CHORALE.allowed(3, PITCHES, np.array([[76, 72, 57, -1]]),
                            np.zeros_like(current, dtype=bool), frame)[0]
    assert 50 in {int(p) for p in PITCHES[loose]}  # frame to frame alone it is no parallel

    def part(pitches, durs):
        onsets = np.cumsum([0.0] + durs[:-1])
        return Part([Note(float(o), p, d) for o, p, d in zip(onsets, pitches, durs,
                                                              strict=True)])

    piece = Piece(parts=[part([76, 77], [1.0, 1.0]), part([72, 72], [1.0, 1.0]),
                         part([55, 56, 57], [1.0, 0.5, 0.5]), part([48, 50], [1.0, 1.0])],
                  time_signatures=[(0.0, 2, 4)])
    assert beat_parallels(piece) == (1, 0)  # on beat 2 the tenor is on G#3: no fifth yet
    piece.parts[2] = part([55, 57], [1.0, 1.0])
    assert beat_parallels(piece) == (1, 1)


def test_thin_beats_are_those_of_two_pitch_classes_or_fewer():
    from generation.music.voicing import thin_beats

    def part(pitches):
        return Part([Note(float(i), p, 1.0) for i, p in enumerate(pitches)])

    # beat 1 C major (three pitch classes), beat 2 C-E doubled (two), beat 3 C-G (two)
    piece = Piece(parts=[part([72, 76, 72]), part([67, 72, 67]), part([64, 64, 60]),
                         part([48, 48, 48])], time_signatures=[(0.0, 3, 4)])
    assert thin_beats(piece) == (3, 2)


def test_a_composed_chorale_holds_its_final_chord_to_the_last_bar_line(random_engine):
    from generation.ml.compose_v2 import compose, hold_final_chord

    piece = compose({}, "chorale", bars=3, seed=11, model=random_engine, candidates=2)[0].piece
    assert max(n.onset + n.duration for p in piece.parts for n in p.notes) == \
        pytest.approx(3 * piece.bar_beats)
    short = Piece(parts=[Part([Note(0.0, 72, 1.0), Note(1.0, 71, 1.0)]),
                         Part([Note(0.0, 64, 2.0)]), Part([Note(0.0, 48, 0.5)])],
                  time_signatures=[(0.0, 4, 4)])
    held = hold_final_chord(short, 4.0)
    assert [(n.onset, n.duration) for p in held.parts for n in p.notes] == [
        (0.0, 1.0), (1.0, 3.0), (0.0, 4.0), (0.0, 0.5)]  # the bass had stopped: it stays so


def test_a_chord_seventh_that_does_not_step_down_is_counted():
    from generation.music.voicing import sevenths

    def piece(bass_next):  # G7 in third inversion (F in the bass), then C/E or a leap
        lines = [[71, 72], [67, 67], [62, 64], [53, bass_next]]
        return Piece(parts=[Part([Note(float(i), p, 1.0) for i, p in enumerate(line)])
                            for line in lines], time_signatures=[(0.0, 2, 4)])

    assert sevenths(piece(52)) == (1, 0)  # F steps down to E
    assert sevenths(piece(48)) == (1, 1)  # F leaps down to C
    assert sevenths(piece(55)) == (1, 1)  # F goes up to G


def test_renaissance_lines_cross_and_rest_freely_but_keep_the_line_rules():
    from generation.music.voicing import RENAISSANCE, for_style

    assert for_style("renaissance") == RENAISSANCE and for_style("celtic") is None
    pitches = np.arange(40, 90)
    # the alto may sound above the soprano, and rest while it sounds (a chorale's may not)
    current = np.array([[67, -1, -1, -1]])
    attacked = np.array([[True, False, False, False]])
    ok = RENAISSANCE.allowed(1, pitches, current, attacked)[0]
    assert ok[pitches == 72].all() and ok[pitches == 68].all()  # above it; a second against it
    assert RENAISSANCE.may_rest(1, current).all() and not CHORALE.may_rest(1, current).any()
    # but no tritone leap, and no parallel fifths against the voice above
    before = np.array([[60, 53, -1, -1]])
    now = np.array([[62, -1, -1, -1]])  # the top voice moved C -> D, a fifth above the alto's F
    ok = RENAISSANCE.allowed(1, pitches, now, np.array([[True, False, False, False]]), before)[0]
    assert not ok[pitches == 55].any()  # G: fifths C/F -> D/G
    assert not ok[pitches == 59].any()  # F -> B, a tritone
    assert ok[pitches == 57].all() and ok[pitches == 53].all()


def test_composed_renaissance_keeps_the_line_rules_whatever_the_model_prefers(
        random_grid_engine, monkeypatch):
    from generation.ml import compose_v2
    from generation.music import voicing

    def write(rules: bool):
        monkeypatch.setattr(compose_v2, "VOICING", rules)
        return [compose_v2.compose({}, "renaissance", bars=4, seed=seed,
                                   model=random_grid_engine, candidates=2)[0].piece
                for seed in range(4)]

    free, ruled = write(False), write(True)
    count = {name: [sum(voicing.leap_counts([sorted(part.notes) for part in p.parts])[1]
                        for p in pieces),
                    sum(critique(p).parallels for p in pieces),
                    sum(critique(p).crossings for p in pieces)]
             for name, pieces in (("free", free), ("ruled", ruled))}
    assert count["ruled"][0] == 0 < count["free"][0]  # no forbidden leap; free, it leaps
    # fifths and octaves give way but where the voices move on different frames (the
    # critic pairs common onsets) or a row has no other choice
    assert count["ruled"][1] < count["free"][1]
    assert count["ruled"][2] > 0  # the lines stay free to cross, as Renaissance voices do


def test_restrikes_count_a_lower_voice_striking_its_pitch_again_beyond_bachs_share():
    from generation.ml import compose_v2
    from generation.music.voicing import BACH_RESTRIKES, restrikes

    def line(pitches):
        return Part([Note(float(i), p, 1.0) for i, p in enumerate(pitches)])

    # soprano moves freely (not counted); alto G G G A (2 of 3 moves), tenor E F E D (0),
    # bass C C C C (3 of 3)
    piece = Piece(parts=[line([72, 72, 74, 72]), line([67, 67, 67, 69]),
                         line([64, 65, 64, 62]), line([48, 48, 48, 48])],
                  time_signatures=[(0.0, 4, 4)])
    assert restrikes(piece) == (9, 5)
    assert compose_v2._excess_restrikes(piece) == pytest.approx(5 - BACH_RESTRIKES * 9)
    moving = Piece(parts=[line([72, 74, 76, 77]), line([67, 69, 67, 65]),
                          line([64, 65, 64, 62]), line([48, 50, 52, 53])],
                   time_signatures=[(0.0, 4, 4)])
    assert restrikes(moving) == (9, 0) and compose_v2._excess_restrikes(moving) == 0
