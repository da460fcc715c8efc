"""`make run`'s process manager: the studio comes up, a killed worker is restarted, and
SIGTERM stops everything."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from studio.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _get(url: str, timeout: float = 2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def _wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _supervisorctl(var: Path, *args: str) -> str:
    return subprocess.run([str(ROOT / ".venv/bin/supervisorctl"), "-c",
                           str(var / "supervisord.conf"), *args],
                          capture_output=True, text=True, timeout=20).stdout


def test_the_studio_starts_restarts_a_killed_worker_and_stops_cleanly(tmp_path):
    var = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update({"STUDIO_VAR_DIR": str(var), "HOST": "127.0.0.1", "PORT": str(port),
                "WORKERS": "1", "STUDIO_REDIS_PORT": str(free_port())})
    subprocess.run([str(ROOT / ".venv/bin/python"), "manage.py", "migrate", "--noinput",
                    "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    proc = subprocess.Popen([str(ROOT / "scripts/run_studio.sh")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        first_line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first_line
        base = f"http://127.0.0.1:{port}"
        status, body = _wait(lambda: (lambda r: r if r[0] == 200 else None)(_get(base + "/healthz")),
                             60, "/healthz to answer 200")
        health = json.loads(body)
        assert health["database"] and health["channel_layer"]
        status, body = _get(base + "/")
        assert status == 200 and b"Sign up" in body
        # a new install queues its gallery's examples by itself, once
        examples = var / "log" / "examples.log"
        _wait(lambda: examples.exists() and "examples queued" in examples.read_text(), 120,
              "the example tracks to be queued")

        def worker_pid():
            out = _supervisorctl(var, "pid", "worker:worker-0")
            return int(out.strip()) if out.strip().isdigit() and int(out.strip()) > 0 else None

        old = _wait(worker_pid, 30, "the worker to start")
        os.kill(old, signal.SIGKILL)
        new = _wait(lambda: (lambda p: p if p and p != old else None)(worker_pid()), 30,
                    "supervisord to restart the killed worker")
        assert new != old
        _wait(lambda: "RUNNING" in _supervisorctl(var, "status", "worker:worker-0"), 30,
              "the new worker to be RUNNING")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0
    assert _get(f"http://127.0.0.1:{port}/healthz", timeout=1)[0] is None, "daphne still up"


OUTAGE_SECONDS = 60

# run in the studio's own database (STUDIO_VAR_DIR) with its settings: a user and a job
_SUBMIT = """
from django.contrib.auth import get_user_model
from generation import services
user, _ = get_user_model().objects.get_or_create(username="patient")
print(services.submit_job(user=user, kind="compose", params={"bars": 2}).id)
"""
_JOB = """
import json, sys
from generation.models import Job, Track
job = Job.objects.get(id=int(sys.argv[-1]))
print(json.dumps([job.status, job.error, Track.objects.filter(job=job).count()]))
"""


def _django(env: dict, code: str, *args: str) -> str:
    return subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c",
         "import django, sys; django.setup(); exec(sys.argv[1])", code, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip().splitlines()[-1]


def test_workers_come_back_by_themselves_after_a_redis_outage(tmp_path):
    """Redis stopped for a minute: the worker is never given up on, comes back by itself, and
    a job submitted while Redis was down is not lost: it ends done once Redis is back."""
    var = tmp_path / "var"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update({"STUDIO_VAR_DIR": str(var), "HOST": "127.0.0.1", "PORT": str(port),
                "WORKERS": "1", "STUDIO_REDIS_PORT": str(free_port()),
                "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT),
                "STUDIO_COMPOSE_MODULE": "tests.jobs_engine", "STUDIO_DEVICE": "cpu",
                # no example jobs: a worker draining them would take this test's job from
                # the database during the outage, which is right but not what is tested
                "STUDIO_SEED_EXAMPLES": "0"})
    subprocess.run([str(ROOT / ".venv/bin/python"), "manage.py", "migrate", "--noinput",
                    "-v", "0"], cwd=ROOT, env=env, check=True, timeout=120)
    proc = subprocess.Popen([str(ROOT / "scripts/run_studio.sh")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        _wait(lambda: "RUNNING" in _supervisorctl(var, "status", "worker:worker-0"), 60,
              "the worker to run")
        _wait(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200, 240,
              "/healthz to answer 200 (a live worker)")
        _supervisorctl(var, "stop", "redis")
        job_id = _django(env, _SUBMIT)  # queued in the database; its doorbell cannot ring
        # long enough for a process manager that gives up after a few quick retries to do so
        deadline = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < deadline:
            assert "FATAL" not in _supervisorctl(var, "status", "worker:worker-0")
            time.sleep(0.5)
        assert json.loads(_django(env, _JOB, job_id))[0] == "queued"
        _supervisorctl(var, "start", "redis")
        _wait(lambda: "RUNNING" in _supervisorctl(var, "status", "worker:worker-0"), 120,
              "the worker to be back once Redis is")
        status, body = _wait(
            lambda: (lambda r: r if r[0] == 200 else None)(_get(f"http://127.0.0.1:{port}/healthz")),
            240, "/healthz to answer 200 again")
        assert json.loads(body)["channel_layer"] is True
        state = _wait(lambda: (lambda s: s if s[0] not in ("queued", "running") else None)(
            json.loads(_django(env, _JOB, job_id))), 600, "the job queued during the outage")
        assert state == ["done", "", 1], state
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
