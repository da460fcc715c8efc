"""A small, fast composer for tests of the job machinery (STUDIO_COMPOSE_MODULE).

It has the shape of ``generation.ml.compose`` (``load_default_model``, ``compose``,
``continue_piece``) so the worker, pipeline, rendering, tracks and recovery run exactly as in
production while the model step takes a known time without a trained checkpoint. The music
is a seeded random walk over a C major / A minor scale in two voices.

``STUDIO_TEST_ENGINE_DELAY`` (seconds, env) makes each call wait first, so a test can act on
a job while it is mid-run (kill the worker, send SIGTERM, cancel it);
``STUDIO_TEST_ENGINE_FAIL=memory`` makes it raise MemoryError, as a model out of memory.
``transfer_style`` (for STUDIO_TRANSFER_MODULE) transposes the seed up a fifth.
``STUDIO_TEST_ENGINE_HANG_STYLE`` (a style name, env) makes a compose job of that style sleep
forever, and ``STUDIO_TEST_ENGINE_GREEDY_STYLE`` one that allocates (and touches) memory
until the process's cap stops it, so deadline and memory-cap tests can send one bad job
between good ones. (``STUDIO_TEST_FINISH_DELAY`` lives in tests/settings.py.)
"""

from __future__ import annotations

import os
import random
import time

from generation.ml.compose import GeneratedPiece
from generation.ml.transfer import TransferResult
from generation.music.notes import Note, Part, Piece

MAJOR = [0, 2, 4, 5, 7, 9, 11]


class TinyModel:
    version = "test-walk-1"


def _result(piece: Piece, seed: int, variant: int, style: str, boundary: float = 0.0,
            bars: int = 0) -> GeneratedPiece:
    """The engine's own result class, so the pipeline reads the fake as it reads the model."""
    return GeneratedPiece(piece, seed, variant, TinyModel.version, style, {}, boundary, bars)


def load_default_model(device: str | None = None) -> TinyModel:
    return TinyModel()


def _walk(rng: random.Random, start_beat: float, bars: int, tonic: int) -> list[Part]:
    melody, bass = [], []
    degree = 7
    beat = start_beat
    end = start_beat + bars * 4.0
    while beat < end - 1e-9:
        degree = max(0, min(14, degree + rng.choice([-2, -1, -1, 1, 1, 2])))
        dur = min(rng.choice([0.5, 1.0, 1.0, 2.0]), end - beat)
        pitch = tonic + 12 + 12 * (degree // 7) + MAJOR[degree % 7]
        melody.append(Note(beat, pitch, dur, 84))
        beat += dur
    for bar in range(bars):
        root = tonic - 12 + MAJOR[rng.choice([0, 3, 4, 5])]
        bass.append(Note(start_beat + bar * 4.0, root, 4.0, 70))
    return [
        Part(notes=melody, program=0, name="Melody"),
        Part(notes=bass, program=32, name="Bass"),
    ]


def _misbehave(style: str) -> None:
    if style and style == os.environ.get("STUDIO_TEST_ENGINE_HANG_STYLE"):
        while True:
            time.sleep(60)
    if style and style == os.environ.get("STUDIO_TEST_ENGINE_GREEDY_STYLE"):
        # touched pages, 64 MB at a time; a safety stop at twice the cap, so a cap that does
        # not hold fails the test with "Something went wrong" instead of eating the machine
        ceiling = 2 * int(os.environ.get("STUDIO_JOB_MEMORY_MB", "2048")) << 20
        hoard = []
        while len(hoard) * (64 << 20) < ceiling:
            hoard.append(bytearray(b"\x01") * (64 << 20))
        raise RuntimeError("the memory cap did not stop the greedy test composer")


def _delay() -> None:
    delay = float(os.environ.get("STUDIO_TEST_ENGINE_DELAY", "0") or 0)
    if delay > 0:
        time.sleep(delay)
    if os.environ.get("STUDIO_TEST_ENGINE_FAIL") == "memory":
        raise MemoryError("the test composer was told to run out of memory")


def compose(
    attributes: dict,
    style: str,
    bars: int = 8,
    temperature: float = 1.0,
    top_p: float = 0.95,
    seed: int | None = None,
    variants: int = 1,
    tempo_bpm: float | None = None,
    meter=None,
    model=None,
) -> list[GeneratedPiece]:
    """Same signature as generation.ml.compose.compose."""
    _misbehave(style)
    _delay()
    tonic = 60 if (attributes or {}).get("mode") != "minor" else 57
    bpm = float(tempo_bpm or 120.0)
    out = []
    for i in range(variants):
        rng = random.Random((seed or 0) + i)
        piece = Piece(
            parts=_walk(rng, 0.0, bars, tonic), tempos=[(0.0, bpm)], time_signatures=[(0.0, 4, 4)]
        )
        out.append(_result(piece, (seed or 0) + i, i + 1, style, bars=bars))
    return out


def continue_piece(
    seed_piece: Piece,
    bars: int = 8,
    temperature: float = 1.0,
    top_p: float = 0.95,
    seed: int | None = None,
    variants: int = 1,
    style: str | None = None,
    attributes: dict | None = None,
    model=None,
) -> list[GeneratedPiece]:
    """Same signature as generation.ml.compose.continue_piece."""
    _delay()
    boundary = seed_piece.bars * seed_piece.bar_beats
    out = []
    for i in range(variants):
        rng = random.Random((seed or 0) + i)
        extra = _walk(rng, boundary, bars, 60)
        parts = [
            Part(notes=list(p.notes), program=p.program, is_drum=p.is_drum, name=p.name)
            for p in seed_piece.parts
        ]
        parts[0].notes.extend(extra[0].notes)
        piece = Piece(
            parts=parts,
            tempos=list(seed_piece.tempos),
            time_signatures=list(seed_piece.time_signatures),
            key=seed_piece.key,
        )
        out.append(_result(piece, (seed or 0) + i, i + 1, style or "", boundary, bars))
    return out


def transfer_style(piece: Piece, to_style: str, from_style: str | None = None):
    """Same signature as generation.ml.transfer.transfer_style: the seed up a fifth."""
    _delay()
    parts = [
        Part(
            notes=[Note(n.onset, n.pitch + 7, n.duration, n.velocity) for n in p.notes],
            program=p.program,
            is_drum=p.is_drum,
            name=p.name,
        )
        for p in piece.parts
    ]
    return TransferResult(
        piece=Piece(parts=parts, tempos=list(piece.tempos),
                    time_signatures=list(piece.time_signatures)),
        source_style="german_folk",
        guessed=True,
        route=["german_folk", to_style],
        model_version="test-transpose-1",
    )
