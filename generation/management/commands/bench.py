"""``manage.py bench``: end-to-end time of compose (or repair) jobs with a warm worker.

``--kind infill`` measures the repair served on the track page (issue 15): bars 5-8 (or
``--rewrite A-B``) of a ``--bars``-bar four-voice piece rewritten, every voice, through the
same queue, worker and rendering as a user's job ("playable": MIDI, score and audio written);
``--kind harmonize`` writes the voices under its top line. The piece is composed once by the
v2 model (seed 1), the model the repair uses, and submitted as an upload.

Submits ``--jobs`` compose jobs of ``--bars`` bars one after another (so each meets an idle,
warm worker: this measures a job, not the queue) and prints the median and p95 of the time
from submission to done, split by stage as the worker measured them (model, notation, audio,
piano roll) plus what is left (queue hand-off, claiming, saving, polling).

The worker: one already running (a live heartbeat) is used; otherwise the command starts
``runworker generation`` itself (and a loopback redis-server when the channel layer cannot be
reached), and stops what it started. A warm-up job runs first and is not counted. The bench
user's tracks are deleted afterwards unless ``--keep``. It asserts nothing about time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from generation import services
from generation.models import Job

ROOT = Path(__file__).resolve().parents[3]
STAGES = ("model", "notation", "audio", "pianoroll")


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class Command(BaseCommand):
    help = "Median and p95 of submit-to-done time for compose or repair jobs, by stage."

    def add_arguments(self, parser):
        parser.add_argument("--jobs", type=int, default=10, help="measured jobs (>= 1)")
        parser.add_argument("--kind", choices=("compose", "infill", "harmonize"),
                            default="compose")
        parser.add_argument("--rewrite", default="5-8", help="bars an infill job rewrites")
        parser.add_argument("--bars", type=int, default=16)
        parser.add_argument("--style", default="")
        parser.add_argument("--timeout", type=float, default=600, help="seconds per job")
        parser.add_argument(
            "--compose-module",
            default="",
            help="engine module for a worker this command starts (default: the real one)",
        )
        parser.add_argument("--keep", action="store_true", help="keep the bench tracks")

    def handle(self, *args, **opts):
        if opts["jobs"] < 1:
            raise CommandError("--jobs must be at least 1")
        _require_migrated()
        started: list[subprocess.Popen] = []
        try:
            env = self._services(started, opts["compose_module"])
            user = self._bench_user()
            self.source_midi = self._repair_source(opts) if opts["kind"] != "compose" else None
            self.stdout.write(f"warming up ({services.live_worker_count()} live worker(s))...")
            warm = self._run_one(user, opts, warm=True)
            if warm["status"] != "done":
                raise CommandError(f"the warm-up job {warm['status']}: {warm['error']}")
            rows = []
            for i in range(opts["jobs"]):
                row = self._run_one(user, opts)
                if row["status"] != "done":
                    raise CommandError(f"job {row['id']} {row['status']}: {row['error']}")
                rows.append(row)
                self.stdout.write(
                    f"  job {i + 1:>2}/{opts['jobs']}: {row['total']:.2f} s "
                    f"(model {row['model']:.2f}, notation {row['notation']:.2f}, "
                    f"audio {row['audio']:.2f})"
                )
            self._report(rows, opts, env)
            if not opts["keep"]:
                for track in user.tracks.all():
                    services.delete_track(track_id=track.id, user=user)
        finally:
            for proc in reversed(started):
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()

    # -- set-up --------------------------------------------------------------------------------
    def _services(self, started: list[subprocess.Popen], compose_module: str) -> dict:
        """Make sure a channel layer and a worker are there; return the worker's env."""
        from asgiref.sync import async_to_sync
        from channels.layers import channel_layers, get_channel_layer

        env = dict(os.environ)
        try:
            # a short-lived message on a private channel proves Redis answers
            layer = get_channel_layer()
            ping = async_to_sync(layer.new_channel)("bench")
            async_to_sync(layer.send)(ping, {"type": "bench.ping"})
            async_to_sync(layer.receive)(ping)
        except Exception:
            from urllib.parse import urlparse

            from studio.processes import start_redis

            # on the configured port, so the cache (quotas, throttles) and the channel layer
            # both reach it with the settings as they are
            proc, url = start_redis(urlparse(settings.REDIS_URL).port or 6379)
            started.append(proc)
            env["REDIS_URL"] = url
            channel_layers.backends.clear()
            self.stdout.write(f"started a loopback redis-server at {url}")
        if compose_module:
            # only the test settings read STUDIO_COMPOSE_MODULE (a stand-in engine is a test
            # device, not a product setting)
            env["STUDIO_COMPOSE_MODULE"] = compose_module
            env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        if services.live_worker_count() == 0 or compose_module:
            if services.live_worker_count() and compose_module:
                self.stdout.write("note: a worker is already running; it will take jobs too")
            log = open(Path(settings.MEDIA_ROOT).parent / "bench-worker.log", "w")  # noqa: SIM115
            proc = subprocess.Popen(
                [sys.executable, "manage.py", "runworker", "generation"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            started.append(proc)
            deadline = time.monotonic() + 120
            while services.live_worker_count() == 0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise CommandError(f"the worker did not start; see {log.name}")
                time.sleep(0.5)
            self.stdout.write(f"started a worker (pid {proc.pid}), log in {log.name}")
        return env

    def _repair_source(self, opts) -> bytes:
        """A ``--bars``-bar four-voice chorale by the v2 model (infill), or its top line
        (harmonize), as MIDI bytes."""
        from generation.ml import engines
        from generation.music.grid import line_order
        from generation.music.notes import Piece, piece_to_midi_bytes

        module = engines.module_for("v2")
        engine = module.load_default_model(device=getattr(settings, "STUDIO_DEVICE", None))
        piece = module.compose({}, "chorale", bars=opts["bars"], seed=1, model=engine)[0].piece
        if opts["kind"] == "harmonize":
            top = piece.parts[line_order(piece)[0]]
            piece = Piece(parts=[top], tempos=piece.tempos,
                          time_signatures=piece.time_signatures, key=piece.key)
        self.stdout.write(f"source: {piece.bars} bars, {len(piece.parts)} part(s) (v2, seed 1)")
        return piece_to_midi_bytes(piece)

    def _bench_user(self):
        User = get_user_model()
        user, created = User.objects.get_or_create(username="bench")
        if created:
            user.set_unusable_password()
            user.save()
        return user

    # -- measuring -----------------------------------------------------------------------------
    def _run_one(self, user, opts, warm: bool = False) -> dict:
        kind = opts["kind"]
        params = {"bars": opts["bars"], "variants": 1}
        if opts["style"]:
            params["style"] = opts["style"]
        if kind == "infill":
            first, _, last = opts["rewrite"].partition("-")
            params = {"start_bar": first, "end_bar": last or first}
        elif kind == "harmonize":
            params = {}
        t0 = time.perf_counter()
        job = services.submit_job(user=user, kind=kind, params=params,
                                  midi_bytes=self.source_midi)
        deadline = t0 + opts["timeout"]
        while True:
            job.refresh_from_db()
            if job.status in Job.FINAL:
                break
            if time.perf_counter() > deadline:
                raise CommandError(f"job {job.id} did not finish in {opts['timeout']} s")
            time.sleep(0.02)
        total = time.perf_counter() - t0
        stages = job.stage_seconds or {}
        row = {"id": job.id, "status": job.status, "error": job.error, "total": total}
        for stage in STAGES:
            row[stage] = float(stages.get(stage, 0.0))
        row["other"] = total - sum(row[s] for s in STAGES)
        if warm:
            self.stdout.write(f"  warm-up job: {total:.2f} s")
        return row

    def _report(self, rows: list[dict], opts, env: dict) -> None:
        self.stdout.write("")
        self.stdout.write(
            f"{len(rows)} {opts['kind']} jobs"
            + (f" (bars {opts['rewrite']})" if opts["kind"] == "infill" else "")
            + f" of {opts['bars']} bars, one at a time, warm worker "
            f"(engine: {env.get('STUDIO_COMPOSE_MODULE') or 'the served model'}, "
            f"device: {getattr(settings, 'STUDIO_DEVICE', 'auto')})"
        )
        self.stdout.write(f"{'stage':<12}{'median s':>10}{'p95 s':>10}")
        for name in ("total", *STAGES, "other"):
            values = [r[name] for r in rows]
            self.stdout.write(
                f"{name:<12}{statistics.median(values):>10.3f}{percentile(values, 95):>10.3f}"
            )


def _require_migrated() -> None:
    """A database without the studio's tables gets one line, not a traceback from the
    first query (``make bench`` migrates first; ``manage.py bench`` alone may not)."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CommandError("the database is not migrated: run `make setup` (or "
                           "`python manage.py migrate`) first")
