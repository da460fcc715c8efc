"""The event tokenizer: exact round trips up to the grid, over real pieces of every style."""

from __future__ import annotations

import json

import pytest

from generation.music.notes import Note, Part, Piece
from generation.music.tokenizer import Grammar, Tokenizer, TokenizerConfig, UnsupportedPiece

TOK = Tokenizer()
PIECES_PER_STYLE = 4


def _corpus_cases():
    # the prepared corpus is committed: if it cannot be loaded, collection fails loudly
    from generation.music.corpus import STYLES, load_corpus

    data = load_corpus()
    cases = []
    for style in STYLES:
        infos = data.select(split="test", style=style)[:PIECES_PER_STYLE]
        cases += [pytest.param(style, info.id, id=f"{style}-{info.id}") for info in infos]
    return cases


def expected_events(piece: Piece) -> list[tuple]:
    """(track, onset step, pitch, duration step, velocity) as the grid keeps them."""
    out = set()
    for t, part in enumerate(p for p in piece.parts if not p.is_drum):
        keep: dict[tuple, tuple] = {}
        for n in part.notes:
            key = (t, TOK._step(n.onset), n.pitch)
            dur = TOK.quantize_duration(n.duration * TOK.q)
            if key not in keep or keep[key][0] < dur:
                keep[key] = (dur, TOK.quantize_velocity(n.velocity))
        out |= {(*k, *v) for k, v in keep.items()}
    return sorted(out)


def events(piece: Piece) -> list[tuple]:
    return sorted((t, round(n.onset * TOK.q), n.pitch, round(n.duration * TOK.q), n.velocity)
                  for t, p in enumerate(piece.parts) for n in p.notes)


@pytest.mark.parametrize(("style", "piece_id"), _corpus_cases())
def test_real_pieces_round_trip_exactly_up_to_the_grid(style, piece_id):
    from generation.music.corpus import load_corpus

    piece = load_corpus().piece(piece_id)
    prefix = TOK.prefix(style, "major", "moderate", "middle", piece.time_signature)
    ids = TOK.encode(piece, prefix=prefix)
    Grammar(TOK).feed_all(ids)  # the tokens of every real piece are grammatical
    back = TOK.decode(ids, programs=[p.program for p in piece.parts])
    assert events(back) == expected_events(piece)
    assert back.time_signature == piece.time_signature
    # decoding is stable: a second pass changes nothing
    assert TOK.encode(back, prefix=prefix) == ids


@pytest.mark.parametrize("meter", [(4, 4), (3, 4), (6, 8), (3, 2), (2, 2), (9, 8), (4, 1)])
def test_every_corpus_meter_places_notes_in_their_bars(meter):
    num, den = meter
    bar = num * 4 / den
    notes = [Note(0.0, 60, bar, 78), Note(bar + 1 / 3, 64, 1 / 3, 50),
             Note(2 * bar - 0.25, 67, 0.25, 96)]
    piece = Piece(parts=[Part(notes)], time_signatures=[(0.0, num, den)])
    ids = TOK.encode(piece)
    assert ids.count(TOK.bar) == 2
    back = TOK.decode(ids, meter_map=piece.time_signatures)
    assert events(back) == expected_events(piece)


def test_a_meter_change_inside_a_bar_waits_for_the_next_bar_line_and_keeps_onsets():
    notes = [Note(float(i) * 0.5, 60 + i % 5, 0.5, 78) for i in range(24)]
    piece = Piece(parts=[Part(notes)], time_signatures=[(0.0, 3, 4), (4.0, 2, 4)])
    ids = TOK.encode(piece)
    back = TOK.decode(ids, meter_map=piece.time_signatures)
    assert events(back) == expected_events(piece)
    assert [(n, d) for _, n, d in back.time_signatures] == [(3, 4), (2, 4)]


def test_parts_keep_their_track_and_velocities_their_bin():
    piece = Piece(parts=[Part([Note(0.0, 72, 1.0, 100), Note(1.0, 74, 1.0, 100)]),
                         Part([Note(0.0, 48, 2.0, 40)]),
                         Part([Note(0.0, 36, 1.0, 80)], is_drum=True)])
    back = TOK.decode(TOK.encode(piece), programs=[0, 0])
    assert [len(p.notes) for p in back.parts] == [2, 1]  # drums are not tokenized
    assert [n.velocity for n in back.parts[0].notes] == [96, 96]
    assert back.parts[1].notes[0].velocity == 36  # 40 -> nearest bin (pp)


def test_a_melody_needs_no_track_tokens_but_a_second_part_does():
    melody = Piece(parts=[Part([Note(float(i), 60 + i, 1.0, 80) for i in range(4)])])
    assert not any(TOK.kind(t) == "Track" for t in TOK.encode(melody))
    duet = Piece(parts=[Part([Note(0.0, 72, 1.0)]), Part([Note(0.0, 48, 1.0)])])
    assert TOK.describe(TOK.encode(duet)) == ["Bar", "Pos_0", "Pitch_72", "Dur_12", "Track_1",
                                              "Pitch_48", "Dur_12"]


def test_velocity_tokens_appear_only_when_the_dynamic_changes():
    mf = Piece(parts=[Part([Note(float(i), 60, 1.0, 80) for i in range(8)])])
    assert not any(TOK.kind(t) == "Vel" for t in TOK.encode(mf))
    loud = Piece(parts=[Part([Note(float(i), 60, 1.0, 110) for i in range(8)])])
    # one Vel per bar (each bar is self-contained for windows that start there)
    assert sum(TOK.kind(t) == "Vel" for t in TOK.encode(loud)) == 2


def test_unknown_meters_are_refused_cleanly():
    piece = Piece(parts=[Part([Note(0.0, 60, 1.0)])], time_signatures=[(0.0, 7, 32)])
    with pytest.raises(UnsupportedPiece):
        TOK.encode(piece)


def test_grammar_rejects_ill_formed_sequences():
    prefix = TOK.prefix("chorale", "minor", "sparse", "low", (3, 4))
    g = Grammar(TOK).feed_all(prefix + [TOK.bar, TOK.token("Pos", 12)])
    with pytest.raises(ValueError):
        g.copy().feed(TOK.token("Dur", 3))  # a note starts with its pitch
    g.feed(TOK.token("Track", 1))
    g.feed(TOK.token("Pitch", 40))
    g.feed(TOK.token("Dur", 3))
    for bad in (TOK.token("Pos", 12), TOK.token("Pos", 36), TOK.token("Track", 0),
                TOK.token("Pitch", 40), TOK.token("Dur", 3)):
        assert not g.accepts(bad), TOK.vocab[bad]  # not back in time, not past the 3/4 bar
    assert g.accepts(TOK.token("Pos", 35)) and g.accepts(TOK.token("Pitch", 41))


def test_config_saves_and_loads_equal(tmp_path):
    cfg = TokenizerConfig()
    cfg.save(tmp_path / "tokenizer.json")
    loaded = TokenizerConfig.load(tmp_path / "tokenizer.json")
    assert loaded == cfg
    assert Tokenizer(loaded).vocab == TOK.vocab
    data = json.loads((tmp_path / "tokenizer.json").read_text())
    data["positions_per_quarter"] = 4
    assert TokenizerConfig(**data) != cfg
