"""Small helpers for child processes on loopback (no side effects on import): a free port,
a throw-away redis-server or PostgreSQL cluster, stopping a process. Used by the test plugin (``studio.testing``),
the test fixtures and ``manage.py bench``."""

from __future__ import annotations

import os
import pwd
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


def stop_process(proc: subprocess.Popen, wait: float = 5) -> None:
    """SIGTERM, then SIGKILL if it has not gone within ``wait`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def postgres_bin_dir() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (initdb, pg_ctl), newest version
    first; None when the server is not installed."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")  # another layout: the programs on PATH
    return Path(found).parent if found else None


class ThrowawayPostgres:
    """A private PostgreSQL cluster on loopback in a temporary folder, for tests and the load
    test: ``initdb`` with trust authentication for one role, ``pg_ctl start`` on a free port.

    PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres``
    user (Debian's package makes it) and its programs run through ``runuser``.
    """

    ROLE = "cadenza"

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        if self.bin_dir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package `postgresql`)")
        self.base = Path(tempfile.mkdtemp(prefix="cadenza-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgres://{self.ROLE}@127.0.0.1:{self.port}/{self.ROLE}"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self._as_owner, str(self.bin_dir / program), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> str:
        """Create and start the cluster (and a database named like the role); its URL."""
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", self.ROLE, "--auth=trust",
                      "-E", "UTF8", "--no-sync", "--locale=C")
        # durability off: a throw-away cluster trades it for speed on a busy test machine
        options = (f"-p {self.port} -h 127.0.0.1 -k {self.base} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.ROLE, self.ROLE)
        return self.url

    def stop(self, *, remove: bool = True) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, FileNotFoundError):
            pass
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)
