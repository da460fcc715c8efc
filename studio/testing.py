"""A pytest plugin (loaded with ``-p studio.testing``) that gives the test run real services.

It runs at plugin import time, before pytest-django imports the settings, because the
settings read REDIS_URL when they load:

- a real ``redis-server`` on a free loopback port (unless REDIS_URL is already set), stopped
  when the run ends;
- a private MEDIA_ROOT and var/ directory for the run;
- ``DJANGO_ALLOW_ASYNC_UNSAFE`` so that Playwright's event loop does not trip Django's
  async-safety check in browser tests;
- with ``STUDIO_TEST_DB=postgres`` (``make test`` re-runs the jobs, integration and
  fault tests so), a throw-away PostgreSQL cluster on loopback (``ThrowawayPostgres``) as
  DATABASE_URL; where PostgreSQL is not installed, every test is skipped with that reason.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from studio.processes import ThrowawayPostgres, start_redis, stop_process

_run_dir = Path(tempfile.mkdtemp(prefix="cadenza-test-"))
atexit.register(shutil.rmtree, _run_dir, True)
os.environ.setdefault("STUDIO_VAR_DIR", str(_run_dir / "var"))
os.environ.setdefault("MEDIA_ROOT", str(_run_dir / "media"))
os.environ.setdefault("STUDIO_CACHE_PREFIX", f"test-{os.getpid()}")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
Path(os.environ["STUDIO_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
if not os.environ.get("REDIS_URL"):
    _redis_proc, os.environ["REDIS_URL"] = start_redis()
    atexit.register(stop_process, _redis_proc)

POSTGRES_MISSING = ""
if os.environ.get("STUDIO_TEST_DB") == "postgres" and not os.environ.get("DATABASE_URL"):
    try:
        _postgres = ThrowawayPostgres()
        os.environ["DATABASE_URL"] = _postgres.start()
        atexit.register(_postgres.stop)
    except (RuntimeError, OSError, KeyError) as exc:
        POSTGRES_MISSING = f"PostgreSQL could not be started for this run: {exc}"


def pytest_collection_modifyitems(config, items):  # noqa: ARG001 - pytest hook signature
    if POSTGRES_MISSING:
        import pytest

        for item in items:
            item.add_marker(pytest.mark.skip(reason=POSTGRES_MISSING))


def pytest_report_header(config):  # noqa: ARG001 - pytest hook signature
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
