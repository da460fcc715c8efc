"""A small, fast composer for tests of the job machinery (STUDIO_COMPOSE_MODULE).

It has the shape of ``generation.ml.compose`` (``load_default_model``, ``compose``,
``continue_piece``) so the worker, pipeline, rendering, tracks and recovery run exactly as in
production while the model step takes a known time without a trained checkpoint. The music
is a seeded random walk over a C major / A minor scale in two voices.

``STUDIO_TEST_ENGINE_DELAY`` (seconds, env) makes each call wait first, so a test can act on
a job while it is mid-run (kill the worker, send SIGTERM, cancel it).
"""

from __future__ import annotations

import os
import random
import time

from generation.music.notes import Note, Part, Piece

MAJOR = [0, 2, 4, 5, 7, 9, 11]


class TinyModel:
    version = "test-walk-1"


def load_default_model(device: str = "cpu") -> TinyModel:
    return TinyModel()


def _walk(rng: random.Random, start_beat: float, bars: int, tonic: int) -> list[Part]:
    melody, bass = [], []
    degree = 7
    beat = start_beat
    end = start_beat + bars * 4.0
    while beat < end - 1e-9:
        degree = max(0, min(14, degree + rng.choice([-2, -1, -1, 1, 1, 2])))
        dur = rng.choice([0.5, 1.0, 1.0, 2.0])
        dur = min(dur, end - beat)
        pitch = tonic + 12 + 12 * (degree // 7) + MAJOR[degree % 7]
        melody.append(Note(beat, pitch, dur, 84))
        beat += dur
    for bar in range(bars):
        root = tonic - 12 + MAJOR[rng.choice([0, 3, 4, 5])]
        bass.append(Note(start_beat + bar * 4.0, root, 4.0, 70))
    return [Part(notes=melody, program=0, name="Melody"), Part(notes=bass, program=32, name="Bass")]


def _delay() -> None:
    delay = float(os.environ.get("STUDIO_TEST_ENGINE_DELAY", "0") or 0)
    if delay > 0:
        time.sleep(delay)


def compose(
    model, *, style=None, attributes=None, bars=4, temperature=1.0, top_p=0.95, seed=0
) -> Piece:
    _delay()
    rng = random.Random(seed)
    tonic = 60 if (attributes or {}).get("mode") != "minor" else 57
    bpm = float((attributes or {}).get("tempo_bpm", 120.0))
    return Piece(
        parts=_walk(rng, 0.0, bars, tonic), tempos=[(0.0, bpm)], time_signatures=[(0.0, 4, 4)]
    )


def continue_piece(
    model, piece: Piece, *, style=None, attributes=None, bars=4, temperature=1.0, top_p=0.95, seed=0
) -> Piece:
    _delay()
    rng = random.Random(seed)
    start = piece.bars * piece.bar_beats
    extra = _walk(rng, start, bars, 60)
    parts = [
        Part(notes=list(p.notes), program=p.program, is_drum=p.is_drum, name=p.name)
        for p in piece.parts
    ]
    parts[0].notes.extend(extra[0].notes)
    return Piece(
        parts=parts,
        tempos=list(piece.tempos),
        time_signatures=list(piece.time_signatures),
        key=piece.key,
    )
