"""The job pipeline and the worker's job handling, in this process (no worker processes):
a missing engine piece fails the job once with a clear message instead of crashing; a
transfer carries its seed's audio and piano roll; the committed composer makes a track of the
bars asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from generation import pipeline, services
from generation.consumers import WorkerRuntime
from generation.models import Job, Track

pytestmark = [pytest.mark.django_db(transaction=True)]

REAL_CHECKPOINT = (
    Path(__file__).resolve().parent.parent / "generation" / "checkpoints" / "transformer"
)


def run_in_this_process(job_id: int) -> str:
    runtime = WorkerRuntime()  # not started: no heartbeat thread, no signal handlers
    return runtime.run_job(job_id)


def test_a_missing_engine_piece_fails_the_job_once_with_a_clear_message(owner, settings):
    settings.STUDIO_COMPOSE_MODULE = "generation.ml.no_such_composer"
    job = services.submit_job(user=owner, kind="compose", params={"bars": 2})
    assert run_in_this_process(job.id) == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 1
    assert job.error == "The composition model is not available on this server yet."
    assert run_in_this_process(job.id) == "skipped"  # a failed job is not run again


def test_a_transfer_track_carries_its_seed_rendered_for_comparison(owner, settings):
    from generation.music.notes import Note, Part, Piece, piece_from_midi, piece_to_midi_bytes

    settings.STUDIO_TRANSFER_MODULE = "tests.jobs_engine"
    seed = Piece(parts=[Part(notes=[Note(float(i), 60 + i % 3, 1.0, 80) for i in range(8)])])
    job = services.submit_job(
        user=owner,
        kind="transfer",
        params={"to_style": "celtic"},
        midi_bytes=piece_to_midi_bytes(seed),
    )
    assert run_in_this_process(job.id) == "done", Job.objects.get(id=job.id).error
    track = Track.objects.get(job_id=job.id)
    root = Path(settings.MEDIA_ROOT)
    assert track.model_version == "test-transpose-1"
    result = piece_from_midi(root / track.files["midi"])
    assert sorted(n.pitch for n in result.all_notes()) == sorted(
        n.pitch + 7 for n in seed.all_notes()
    )
    assert (root / track.files["original_audio"]).stat().st_size > 1000
    assert track.attributes["source_style"] == "german_folk"
    assert track.attributes["source_style_guessed"] is True
    assert track.attributes["route"] == ["german_folk", "celtic"]
    assert (root / track.files["original_pianoroll"]).read_bytes()[:4] == b"\x89PNG"
    client = Client()
    client.force_login(owner)
    urls = client.get(f"/api/tracks/{track.id}/").json()["files"]
    response = client.get(urls["original_audio"])
    assert response.status_code == 200 and response["Content-Type"] == "audio/mpeg"


def test_the_real_composer_makes_a_track_of_the_bars_asked_from_the_committed_model(
    owner, settings
):
    from generation.ml.compose import compose, load_model, model_version
    from tests.track_checks import check_track_files

    settings.STUDIO_COMPOSE_MODULE = ""
    settings.STUDIO_DEVICE = "cpu"
    job = services.submit_job(  # v1 named: it stays servable beside the served v2
        user=owner, kind="compose", params={"bars": 2, "style": "chorale", "seed": 1},
        model_version="v1",
    )
    assert run_in_this_process(job.id) == "done", Job.objects.get(id=job.id).error
    track = Track.objects.get(job_id=job.id)
    # the committed weights made it, and the track says which
    assert track.model_version == model_version(REAL_CHECKPOINT / "model.safetensors")
    got = check_track_files(track, bars=2)
    # the notes are the model's own for this seed (through MIDI: onsets, pitches, lengths)
    want = compose({}, "chorale", bars=2, seed=1, model=load_model(REAL_CHECKPOINT, "cpu"))

    def notes(piece):
        return sorted((round(n.onset, 3), n.pitch, round(n.duration, 3)) for n in piece.all_notes())

    assert notes(got) == notes(want[0].piece)


def test_a_score_that_cannot_be_engraved_still_leaves_midi_and_audio(tmp_path, monkeypatch):
    import generation.render.notation as notation
    from generation.music.notes import Note, Part, Piece

    def broken(piece, out_dir):
        (Path(out_dir) / "score.musicxml").write_text("half written")
        raise RuntimeError("verovio could not load score.musicxml")

    monkeypatch.setattr(notation, "render_notation", broken)
    piece = Piece(parts=[Part(notes=[Note(float(i), 62, 1.0, 80) for i in range(4)])])
    rendered = pipeline.render_variant(piece, tmp_path / "v", boundary_beat=None, timings={})
    assert set(rendered["files"]) == {"midi", "audio", "pianoroll"}
    assert not (tmp_path / "v" / "score.musicxml").exists()
    assert rendered["duration_seconds"] > 1.5


def test_a_deployment_cannot_be_switched_to_the_test_engine():
    """The stand-in engine is chosen by the test settings only: under the product's settings
    the environment variable is ignored and the pipeline uses the real modules."""
    import os
    import subprocess
    import sys

    import studio.settings as product

    for name in ("STUDIO_COMPOSE_MODULE", "STUDIO_TRANSFER_MODULE", "STUDIO_TEST_FAST_ENGINE"):
        assert not hasattr(product, name), name
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(DJANGO_SETTINGS_MODULE="studio.settings", STUDIO_COMPOSE_MODULE="tests.jobs_engine",
               STUDIO_TRANSFER_MODULE="tests.jobs_engine")
    code = ("from generation import pipeline; "
            "print(pipeline.compose_module(), pipeline.transfer_module())")
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # (the shell first says how many objects it imported)
    modules = done.stdout.splitlines()[-1].split()
    from generation.ml import engines

    assert modules == [engines.VERSIONS[engines.SERVED], "generation.ml.transfer"]
