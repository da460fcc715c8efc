"""Request bodies over their path's limit are refused before anything stores them: on the
socket by ``studio.serve`` (daphne as `make run` starts it) and inside the application by
``studio.bodylimit.BodyLimitMiddleware`` (any ASGI server)."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from studio.bodylimit import BodyLimitMiddleware, body_limit
from studio.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# a real daphne, started the way scripts/run_studio.sh starts it
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def daphne_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("daphne")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        # Twisted's temporary files would go here: the test watches the process's writes
        "TMPDIR": str(tmp),
    })
    port = free_port()
    log = (tmp / "daphne.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio.serve", "-t", "60", "-b", "127.0.0.1", "-p", str(port),
         "studio.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp / "daphne.log").read_text()) from None
            time.sleep(0.1)
    yield proc, port
    stop_process(proc)


def _bytes_written(pid: int) -> int:
    """Bytes the process has passed to write() (files, sockets and pipes alike)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError("no wchar in /proc/PID/io")


def _read_response(sock: socket.socket, timeout: float = 5.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 30:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _post_chunked(port: int, path: str, total: int, chunk: int = 64 * 1024):
    """POST ``total`` bytes with Transfer-Encoding: chunked, reading the answer as soon as
    one arrives; returns (status line, body sent, seconds until the answer)."""
    sock = socket.create_connection(("127.0.0.1", port))
    start = time.monotonic()
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/octet-stream\r\n\r\n".encode())
    piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
    sent = 0
    try:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(piece)
            sent += chunk
        else:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = _read_response(sock)
    elapsed = time.monotonic() - start
    sock.close()
    return answer.split(b"\r\n", 1)[0], answer, sent, elapsed


def _post_sized(port: int, path: str, size: int) -> bytes:
    """POST ``size`` bytes with a Content-Length; the answer."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n"
        "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n".encode())
    try:
        sock.sendall(b"x" * size)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = _read_response(sock, 30)
    sock.close()
    return answer


@pytest.mark.integration
def test_a_50_mb_chunked_post_is_refused_within_a_second_and_nothing_is_stored(daphne_server):
    proc, port = daphne_server
    media_before = sorted(Path(settings.MEDIA_ROOT).rglob("*"))
    written_before = _bytes_written(proc.pid)

    status, answer, sent, elapsed = _post_chunked(port, "/healthz", 50 * MB)

    assert status.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"too large" in answer
    assert elapsed < 10.0  # a second on an idle machine; generous for two busy cores
    assert sent < 5 * MB  # the client was stopped long before it sent 50 MB
    time.sleep(0.3)  # let daphne finish writing its access log
    assert _bytes_written(proc.pid) - written_before < 64 * 1024
    assert sorted(Path(settings.MEDIA_ROOT).rglob("*")) == media_before
    assert proc.poll() is None


@pytest.mark.integration
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(daphne_server):
    _, port = daphne_server
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Content-Length: 50000000\r\n\r\n")
    answer = _read_response(sock, 2)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]


@pytest.mark.integration
def test_upload_urls_take_a_midi_sized_body_that_other_urls_refuse(daphne_server):
    _, port = daphne_server
    size = settings.STUDIO_MAX_UPLOAD_BYTES  # far over the small limit, within the upload one
    assert size > body_limit("/healthz")
    assert _post_sized(port, "/healthz", size).startswith(b"HTTP/1.1 413")
    # reaches the API view, which answers as it would without the cap (no CSRF token: 403)
    answer = _post_sized(port, "/api/midi/inspect/", size)
    assert answer.startswith(b"HTTP/1.1 403") and b"CSRF" in answer, answer[:300]
    too_big = body_limit("/api/midi/inspect/") + 1
    assert _post_sized(port, "/api/midi/inspect/", too_big).startswith(b"HTTP/1.1 413")
    # a small body still reaches Django (no CSRF token: 403)
    assert _post_sized(port, "/healthz", 100).startswith(b"HTTP/1.1 403")


# ---------------------------------------------------------------------------------------------
# the middleware alone, as any ASGI server would call it
# ---------------------------------------------------------------------------------------------
def _run_middleware(path: str, messages: list[dict], headers=()):
    seen = {"called": False, "body": b""}

    async def app(scope, receive, send):
        seen["called"] = True
        while True:
            message = await receive()
            seen["body"] += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    queue = list(messages)
    pulled = {"n": 0}

    async def receive():
        pulled["n"] += 1
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": "POST", "headers": list(headers)}
    async_to_sync(BodyLimitMiddleware(app))(scope, receive, send)
    return sent[0]["status"], seen, pulled["n"]


def test_the_middleware_stops_reading_a_chunked_body_at_the_limit():
    limit = body_limit("/healthz")
    chunks = [{"type": "http.request", "body": b"x" * 4096, "more_body": True}] * 1000
    status, seen, pulled = _run_middleware("/healthz", chunks)
    assert status == 413
    assert seen["called"] is False
    assert pulled <= limit // 4096 + 1


def test_the_middleware_refuses_a_declared_length_without_reading():
    status, seen, pulled = _run_middleware(
        "/healthz", [{"type": "http.request", "body": b"", "more_body": True}],
        headers=[(b"content-length", b"9" * 3000)])
    assert (status, seen["called"], pulled) == (413, False, 0)


def test_the_middleware_hands_a_body_within_the_limit_to_the_app_unchanged():
    parts = [b"a" * 1000, b"b" * 1000, b"c"]
    messages = [{"type": "http.request", "body": p, "more_body": i < 2}
                for i, p in enumerate(parts)]
    status, seen, _ = _run_middleware("/api/midi/inspect/", messages)
    assert status == 200
    assert seen["body"] == b"".join(parts)
