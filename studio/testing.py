"""A pytest plugin (loaded with ``-p studio.testing``) that gives the test run real services.

It runs at plugin import time, before pytest-django imports the settings, because the
settings read REDIS_URL when they load:

- a real ``redis-server`` on a free loopback port (unless REDIS_URL is already set), stopped
  when the run ends;
- a private MEDIA_ROOT and var/ directory for the run;
- ``DJANGO_ALLOW_ASYNC_UNSAFE`` so that Playwright's event loop does not trip Django's
  async-safety check in browser tests.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start a throw-away redis-server on loopback; return the process and its URL."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed: run `make test`, which installs it")
    port = port or free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--protected-mode", "yes", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start within 10 s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


_run_dir = Path(tempfile.mkdtemp(prefix="cadenza-test-"))
atexit.register(shutil.rmtree, _run_dir, True)
os.environ.setdefault("STUDIO_VAR_DIR", str(_run_dir / "var"))
os.environ.setdefault("MEDIA_ROOT", str(_run_dir / "media"))
os.environ.setdefault("STUDIO_CACHE_PREFIX", f"test-{os.getpid()}")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
Path(os.environ["STUDIO_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
if not os.environ.get("REDIS_URL"):
    _redis_proc, os.environ["REDIS_URL"] = start_redis()
    atexit.register(_stop, _redis_proc)
