"""The load test in small (``make loadtest`` runs the full one): PostgreSQL, Redis, the S3
server, two daphne processes and two workers under supervisord; a few users submit jobs while
a worker is SIGKILLed and Redis restarted. Every job ends done, once, with no 5xx answer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_small_load_with_kills_and_a_redis_restart_loses_and_doubles_nothing(tmp_path):
    pytest.importorskip("moto.server", reason="moto[server] is not installed (dev extra)")
    from studio.processes import postgres_bin_dir

    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (Debian package `postgresql`)")
    report_path = tmp_path / "loadtest.json"
    done = subprocess.run(
        [sys.executable, "scripts/loadtest.py", "--users", "4", "--jobs", "8", "--kills", "2",
         "--redis-restarts", "1", "--throughput-jobs", "0", "--max-seconds", "600",
         "--report", str(report_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert report_path.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["jobs_submitted"] == 8, report
    assert report["jobs_done"] == 8, report
    assert report["jobs_lost"] == 0 and report["jobs_duplicated"] == 0, report
    assert report["http_5xx"] == 0, report
    assert len(report["faults"]) == 3, report
    assert report["peak_memory_mb"].get("worker-0", 0) > 0, report
    assert done.returncode == 0, done.stderr[-3000:]
