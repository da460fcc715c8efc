"""Helpers for the jobs tests: real worker processes, staging copies, API clients, waiting.

Worker processes are real ``manage.py runworker generation`` processes on the test run's
Redis and the test database file (SQLite in WAL mode, shared with this process), with the
recovery timings shortened through the same environment variables a deployment uses, and the
model step done by ``tests.jobs_engine`` (see its docstring) so no trained checkpoint is
needed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from channels.layers import channel_layers

ROOT = Path(__file__).resolve().parent.parent

def child_database_url() -> str:
    """DATABASE_URL of the test database, for child processes (workers, daphne): the SQLite
    file, or the PostgreSQL test database pytest-django made (``test_<name>``)."""
    from django.db import connection

    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or ""
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    host = conf.get("HOST") or "127.0.0.1"
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{conf['NAME']}"


# shortened recovery timings, for the worker processes and for this process alike
FAST = {
    "STUDIO_HEARTBEAT_SECONDS": 1,
    "STUDIO_RECOVERY_INTERVAL_SECONDS": 1,
    "STUDIO_STALE_WORKER_SECONDS": 3,
    "STUDIO_RESEND_AFTER_SECONDS": 3,
    "STUDIO_CHANNEL_EXPIRY": 2,
}


# how long a worker process may take to start and beat: importing Django, channels and the
# engine takes seconds on an idle machine and a minute or more on two cores busy training
WORKER_START_SECONDS = 240


def wait_for(
    predicate: Callable[[], object], seconds: float, what: str, every: float = 0.2
) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def use_fast_timings(settings, redis_url: str | None = None) -> None:
    """Point this process's settings at the shortened timings and channel expiry."""
    for name, value in FAST.items():
        if name != "STUDIO_CHANNEL_EXPIRY":
            setattr(settings, name, value)
    config = dict(settings.CHANNEL_LAYERS["default"]["CONFIG"])
    config["expiry"] = FAST["STUDIO_CHANNEL_EXPIRY"]
    if redis_url:
        config["hosts"] = [{"address": redis_url, "socket_timeout": None}]
    settings.CHANNEL_LAYERS = {"default": {**settings.CHANNEL_LAYERS["default"], "CONFIG": config}}
    channel_layers.backends.clear()


def flush_generation_channel() -> None:
    """Drop doorbells left on the shared Redis by earlier tests."""
    from asgiref.sync import async_to_sync

    async_to_sync(channel_layers["default"].flush)()
    channel_layers.backends.clear()


# The marks of the tests that run real workers against the shared Redis.
WORKER_TESTS = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(name="fast_jobs")
def fast_jobs_fixture(settings):
    """Shortened timings and an empty generation channel (``usefixtures("fast_jobs")``)."""
    use_fast_timings(settings)
    flush_generation_channel()


class Worker:
    """One ``runworker generation`` process, its log in a file."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self._log = log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runworker", "generation"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, seconds: float) -> int:
        return self.proc.wait(seconds)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


@pytest.fixture(name="worker_factory")
def worker_factory_fixture(settings, tmp_path):
    """Start real workers on the test database; all are killed at the end of the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({k: str(v) for k, v in FAST.items()})
    env.update(
        {
            "DATABASE_URL": child_database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "REDIS_URL": os.environ["REDIS_URL"],
            "STUDIO_COMPOSE_MODULE": "tests.jobs_engine",
            "STUDIO_DEVICE": "cpu",
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DJANGO_LOG_LEVEL": "INFO",
        }
    )
    started: list[Worker] = []

    def start(
        *,
        delay: float = 0.0,
        wait_ready: bool = True,
        redis_url: str | None = None,
        fail: str = "",
        real_engine: bool = False,
        finish_delay: float = 0.0,
        extra_env: dict[str, str] | None = None,
    ) -> Worker:
        """``real_engine``: the committed models (generation.ml.compose / transfer) instead
        of tests.jobs_engine; ``delay``, ``fail`` and ``finish_delay`` (a pause inside
        finish_job) only act with the test engine (see tests/jobs_engine.py)."""
        from generation.models import WorkerHeartbeat

        worker_env = dict(env, STUDIO_TEST_ENGINE_DELAY=str(delay), STUDIO_TEST_ENGINE_FAIL=fail,
                          STUDIO_TEST_FINISH_DELAY=str(finish_delay))
        worker_env.update(extra_env or {})
        if real_engine:
            worker_env["STUDIO_COMPOSE_MODULE"] = ""
            worker_env["STUDIO_TRANSFER_MODULE"] = ""
        if redis_url:
            worker_env["REDIS_URL"] = redis_url
        worker_env.update(extra_env or {})
        before = set(WorkerHeartbeat.objects.values_list("worker_id", flat=True))
        worker = Worker(worker_env, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        if wait_ready:
            # ready = its first heartbeat is in the database
            wait_for(
                lambda: (
                    set(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) - before
                    or worker.proc.poll() is not None
                ),
                WORKER_START_SECONDS,
                "the worker's first heartbeat",
            )
            assert worker.proc.poll() is None, worker.log()
            # and its job child has loaded the models, so a test's waits time jobs only
            wait_for(
                lambda: re.search(r"job child \d+ ready", worker.log())
                or worker.proc.poll() is not None,
                WORKER_START_SECONDS,
                "the worker's job child to be ready",
            )
            assert worker.proc.poll() is None, worker.log()
        return worker

    yield start
    for worker in started:
        worker.stop()


def copy_variant(template: Path, staging: Path) -> Path:
    shutil.copytree(template, staging)
    return staging


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def api(user):
    """A Django test client that authenticates with a fresh API token of ``user``."""
    import io

    from django.core.management import call_command
    from django.test import Client

    out = io.StringIO()
    call_command("issue_token", user.username, stdout=out)
    return Client(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")


def job_status(job_id: int) -> str:
    from generation.models import Job

    return Job.objects.get(id=job_id).status


def wait_done(job_id: int, seconds: float = 60):
    """Wait until the job ends; assert it ended done; return it."""
    from generation.models import Job

    wait_for(lambda: job_status(job_id) in Job.FINAL, seconds, f"job {job_id} to end")
    job = Job.objects.get(id=job_id)
    assert job.status == "done", (job.status, job.error)
    return job
