"""The committed models through a real ``runworker generation`` process, one job per kind.

The other worker tests run ``tests.jobs_engine``, whose ``continue_piece`` copies the seed
itself; here the worker loads ``generation/checkpoints`` and the engine's own code keeps the
seed, so "the worker keeps the seed" is tested, not true by construction. Each job is read
back from its files: the seed note for note, the bars asked for, every file well-formed.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from generation.ml.transfer import transfer_style
from generation.models import Track
from generation.music.validate import validate_midi
from tests.jobs_fixtures import WORKER_TESTS, api, wait_done
from tests.track_checks import audio_seconds, check_track_files, media

pytestmark = [*WORKER_TESTS, pytest.mark.usefixtures("fast_jobs")]

ROOT = Path(__file__).resolve().parent.parent
TRANSFORMER = ROOT / "generation" / "checkpoints" / "transformer" / "model.safetensors"
SEED = ROOT / "tests" / "data" / "valid_midi" / "waltz_3_4.mid"  # 16 bars of 3/4, two parts
JOB_SECONDS = 180  # the first job also loads the model; two busy cores


def _notes(notes) -> list[tuple]:
    return sorted((round(n.onset, 3), n.pitch, round(n.duration, 3), n.velocity) for n in notes)


def test_the_committed_models_make_one_track_of_each_kind(owner, worker_factory):
    client = api(owner)
    seed_bytes = SEED.read_bytes()
    seed = validate_midi(seed_bytes).piece
    assert seed.bars == 16 and seed.time_signature == (3, 4) and len(seed.parts) == 2

    compose = client.post(
        "/api/jobs/",
        {"kind": "compose", "style": "chorale", "bars": 3, "seed": 11},
        content_type="application/json",
    )
    cont = client.post(
        "/api/jobs/",
        {"kind": "continue", "midi": io.BytesIO(seed_bytes), "bars": "2", "seed": "12"},
    )
    transfer = client.post(
        "/api/jobs/",
        {"kind": "transfer", "midi": io.BytesIO(seed_bytes), "to_style": "celtic"},
    )
    for response in (compose, cont, transfer):
        assert response.status_code == 202, response.content
    # started after the uploads: the upload's parse has a 5 s wall-clock limit, which a
    # worker loading torch and the model beside it can eat on two busy cores
    worker_factory(real_engine=True)
    from generation.ml import engines

    weights = engines.load(engines.SERVED).version  # the version jobs get by default

    # compose: the bars asked for, from the committed transformer
    job = wait_done(compose.json()["id"], JOB_SECONDS)
    track = Track.objects.get(job=job)
    assert track.model_version == weights
    check_track_files(track, bars=3)

    # continue: the seed's notes come back exactly, in their own parts, then 2 new bars
    job = wait_done(cont.json()["id"], JOB_SECONDS)
    track = Track.objects.get(job=job)
    assert track.model_version == weights
    result = check_track_files(track, bars=seed.bars + 2)
    boundary = seed.bars * seed.bar_beats
    assert len(result.parts) == len(seed.parts)
    for before, after in zip(seed.parts, result.parts, strict=True):
        assert after.program == before.program
        assert _notes(n for n in after.notes if n.onset < boundary - 1e-6) == _notes(before.notes)
    new = [n for n in result.all_notes() if n.onset >= boundary - 1e-6]
    assert new, "no new notes after the seed"
    assert result.time_signature == (3, 4)

    # transfer: what the committed CycleGANs give for this seed, same length in bars
    job = wait_done(transfer.json()["id"], JOB_SECONDS)
    track = Track.objects.get(job=job)
    want = transfer_style(seed, "celtic")
    assert track.model_version == want.model_version and len(want.model_version) == 12
    assert track.attributes["route"][-1] == "celtic"
    result = check_track_files(track, bars=seed.bars, transfer=True)
    assert _notes(result.all_notes()) == _notes(want.piece.all_notes())
    assert result.time_signature == seed.time_signature
    # the seed is rendered beside the result, for comparison: its audio is the seed's length
    seconds = audio_seconds(media(track.files["original_audio"]))
    assert seed.duration_seconds - 0.1 <= seconds <= seed.duration_seconds + 6.0
