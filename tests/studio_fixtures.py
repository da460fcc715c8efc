"""Fixtures for the studio pages' tests.

- ``rendered_variant``: a short melody rendered once per test session through the worker's
  own rendering function (``generation.pipeline.render_variant``: MIDI, MusicXML, SVG pages,
  timemap, audio, piano roll), so page tests serve real files without running a model.
- ``make_track``: a Track row owned by someone, with a copy of those files under MEDIA_ROOT,
  made through ``generation.services.finish_job`` like a real job's tracks.
- ``studio_server``: daphne (HTTP + websockets) and ``manage.py runworker generation`` as
  real subprocesses against the file-backed test database, for end-to-end browser tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from studio.processes import free_port, stop_process
from tests.jobs_fixtures import child_database_url

ROOT = Path(__file__).resolve().parent.parent


def tiny_piece(title: str = "Morning song", bars: int = 4):
    """A melody over a bass, ``bars`` bars of 4/4 at 120 BPM (2 s a bar)."""
    from generation.music.notes import Note, Part, Piece

    melody = [60, 62, 64, 65, 67, 65, 64, 62, 64, 65, 67, 69, 67, 64, 62, 60]
    notes = [Note(float(i), melody[i % len(melody)], 1.0, 80) for i in range(4 * bars)]
    bass = [Note(float(4 * b), [48, 43, 45, 41][b % 4], 4.0, 70) for b in range(bars)]
    return Piece(
        parts=[
            Part(notes=notes, program=0, name="Melody"),
            Part(notes=bass, program=0, name="Bass"),
        ],
        tempos=[(0.0, 120.0)],
        time_signatures=[(0.0, 4, 4)],
        key="C major",
        title=title,
    )


@pytest.fixture(scope="session")
def rendered_variant(tmp_path_factory):
    """One rendered variant folder (made once), and its ``files`` mapping."""
    from generation.pipeline import render_variant

    folder = tmp_path_factory.mktemp("rendered") / "variant"
    rendered = render_variant(tiny_piece(), folder, boundary_beat=None, timings={})
    return folder, rendered


@pytest.fixture(scope="session")
def long_rendered_variant(tmp_path_factory):
    """48 bars (96 s): long enough for two engraved pages, to watch the page turn."""
    from generation.pipeline import render_variant

    folder = tmp_path_factory.mktemp("rendered-long") / "variant"
    rendered = render_variant(
        tiny_piece("Long song", bars=48), folder, boundary_beat=None, timings={}
    )
    return folder, rendered


@pytest.fixture(scope="session")
def rendered_transfer_variant(tmp_path_factory):
    """A style transfer's files: 48 bars (two engraved pages) and the seed's own audio and
    piano roll beside them, so every file kind a track can have is there."""
    from generation.pipeline import render_variant

    folder = tmp_path_factory.mktemp("rendered-transfer") / "variant"
    rendered = render_variant(
        tiny_piece("Moved song", bars=48), folder, boundary_beat=None, timings={},
        original=tiny_piece(),
    )
    return folder, rendered


@dataclass
class _Variant:  # the shape generation.pipeline.Variant has; finish_job reads these
    number: int
    folder: Path
    files: dict
    title: str
    seed: int
    model_version: str
    attributes: dict
    duration_seconds: float


@pytest.fixture
def make_track(rendered_variant, tmp_path):
    """make_track(owner, visibility="private", title=..., parameters=..., variants=1,
    rendered_with=None) -> Track (or a list of Tracks when variants > 1).

    Goes through submit-like rows and ``finish_job`` so the track and its files are laid out
    exactly as a worker leaves them."""
    from django.utils import timezone

    from generation import services
    from generation.models import Job, Track

    counter = {"n": 0}

    def make(
        owner,
        visibility: str = "private",
        title: str = "Morning song",
        parameters: dict | None = None,
        kind: str = "compose",
        variants: int = 1,
        rendered_with: tuple | None = None,
    ):
        source, rendered = rendered_with or rendered_variant
        counter["n"] += 1
        params = {
            "kind": kind,
            "mood": "calm morning by the sea",
            "bars": 4,
            "temperature": 1.0,
            "variants": variants,
            "style": "chorale",
            "seed": 7,
            "attributes": {"mode": "major", "tempo_bpm": 120.0, "tempo_band": "fast"},
            "mood_attributes": {
                "mode": "major",
                "tempo_bpm": 120.0,
                "tempo_band": "fast",
                "density_band": "sparse",
            },
        }
        params.update(parameters or {})
        worker = f"test-worker-{counter['n']}"
        job = Job.objects.create(
            owner=owner,
            kind=kind,
            parameters=params,
            status=Job.Status.RUNNING,
            worker_id=worker,
            heartbeat_at=timezone.now(),
            attempts=1,
        )
        staged = []
        for i in range(1, variants + 1):
            folder = tmp_path / f"stage-{counter['n']}-{i}"
            shutil.copytree(source, folder)
            staged.append(
                _Variant(
                    i,
                    folder,
                    rendered["files"],
                    title if variants == 1 else f"{title} ({i})",
                    7 + i - 1,
                    "test-model-1",
                    {"mode": "major", "density_band": "sparse"},
                    rendered["duration_seconds"],
                )
            )
        tracks = services.finish_job(job_id=job.id, worker_id=worker, variants=staged)
        for t in tracks:
            Track.objects.filter(id=t.id).update(visibility=visibility)
            t.refresh_from_db()
        return tracks[0] if variants == 1 else tracks

    return make


# ---------------------------------------------------------------------------------------------
# real processes: daphne + a generation worker
# ---------------------------------------------------------------------------------------------
def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    from tests.jobs_fixtures import wait_for

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    wait_for(listening, timeout, f"something to listen on port {port}", every=0.1)



@dataclass
class StudioServer:
    url: str
    daphne: subprocess.Popen
    worker: subprocess.Popen
    log_dir: Path

    def logs(self) -> str:
        out = []
        for name in ("daphne.log", "worker.log"):
            path = self.log_dir / name
            if path.exists():
                out.append(f"--- {name} ---\n" + path.read_text(errors="replace")[-4000:])
        return "\n".join(out)


@pytest.fixture
def studio_server(transactional_db, tmp_path):
    """daphne + one ``runworker generation`` against the test database (a file, see
    settings), the test Redis and the test MEDIA_ROOT. Yields a StudioServer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        {
            # the worker runs the real pipeline with the jobs tests' small composer
            # (tests/jobs_engine.py) instead of a trained checkpoint
            "STUDIO_COMPOSE_MODULE": "tests.jobs_engine",
            "PYTHONPATH": str(ROOT),
            "REDIS_URL": os.environ["REDIS_URL"],
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "STUDIO_HEARTBEAT_SECONDS": "1",
            "STUDIO_RECOVERY_INTERVAL_SECONDS": "1",
            "STUDIO_DEVICE": "cpu",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # the child processes must open the test database, not var/db.sqlite3
    env["DATABASE_URL"] = child_database_url()
    port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    python = sys.executable
    # daphne serves static files through WhiteNoise from STATIC_ROOT (as `make test` and
    # `make run` prepare it); collect them so this test sees the current scripts
    subprocess.run(
        [python, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    daphne = subprocess.Popen(
        [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "studio.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=(logs / "daphne.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        ["nice", "-n", "5", python, "manage.py", "runworker", "generation"],
        cwd=ROOT,
        env=env,
        stdout=(logs / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, daphne)
        yield StudioServer(f"http://127.0.0.1:{port}", daphne, worker, logs)
    finally:
        stop_process(worker, 10)
        stop_process(daphne, 10)
