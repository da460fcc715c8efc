"""``make loadtest``: the studio past one machine, on loopback, under load and faults.

Starts a throw-away PostgreSQL cluster, a redis-server, moto's S3 server and, under
supervisord, two daphne processes (two ports) and two generation workers, each process with
its own local folder (files go through the bucket). Then:

1. throughput: ``--throughput-jobs`` jobs with one worker running, then with two;
2. load: ``--users`` simulated users (HTTP API with a token, websocket with a session) submit
   ``--jobs`` small compose jobs between them, each user one job at a time, following it on
   the websocket (polling the API after a drop), while faults are injected as the jobs
   complete: ``--kills`` SIGKILLs of a random worker (supervisord restarts it) and
   ``--redis-restarts`` restarts of Redis.

Bounded: it stops after ``--max-seconds`` whatever happens. It prints a report and writes it
as JSON (``--report``): jobs submitted / done / failed / lost / duplicated, p50 and p95
submit-to-done, HTTP answers by status, websocket drops, peak memory per process, throughput
with 1 and 2 workers. The model step is tests.jobs_engine (the jobs tests' small composer),
so the figures measure the machinery (queue, claims, rendering, storage), not the model.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.processes import ThrowawayPostgres, free_port, start_redis, stop_process  # noqa: E402

BUCKET = "cadenza-load"
PASSWORD = "load-Test-passw0rd"


def _wait_http(url: str, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer within {seconds:.0f} s")


class Stack:
    """Every process of the load test, started and stopped together."""

    def __init__(self, workdir: Path, workers: int) -> None:
        self.dir = workdir
        self.workers = workers
        self.procs: dict[str, subprocess.Popen] = {}
        self.postgres = ThrowawayPostgres()
        self.redis_port = free_port()
        self.ports = [free_port(), free_port()]
        self.env: dict[str, str] = {}

    # -- start ---------------------------------------------------------------------------------
    def start(self) -> None:
        database_url = self.postgres.start()
        self.procs["redis"], redis_url = start_redis(self.redis_port)
        s3_port = free_port()
        self.procs["s3"] = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        endpoint = f"http://127.0.0.1:{s3_port}"
        _wait_http(endpoint + "/moto-api/", 300, "moto's S3 server")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "STUDIO_"))}
        env.update({
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "tests.settings",  # reads STUDIO_COMPOSE_MODULE
            "STUDIO_COMPOSE_MODULE": "tests.jobs_engine",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),  # one key: sessions work on both
            "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "STUDIO_VAR_DIR": str(self.dir / "var"),
            "STUDIO_STORAGE": "s3", "STUDIO_S3_BUCKET": BUCKET,
            "STUDIO_S3_ENDPOINT_URL": endpoint,
            "STUDIO_S3_ACCESS_KEY": "load", "STUDIO_S3_SECRET_KEY": "load-secret",
            "STUDIO_DEVICE": "cpu", "DJANGO_LOG_LEVEL": "WARNING",
            "STUDIO_HEARTBEAT_SECONDS": "1", "STUDIO_RECOVERY_INTERVAL_SECONDS": "1",
            # 20 s: a worker starved of CPU on a busy machine must not look dead
            "STUDIO_STALE_WORKER_SECONDS": "20", "STUDIO_RESEND_AFTER_SECONDS": "10",
            "STUDIO_MAX_ATTEMPTS": "5",  # ten kills may hit one job more than the default 3
            "STUDIO_MAX_QUEUE": "1000", "STUDIO_MAX_ACTIVE_JOBS_PER_USER": "5",
            "STUDIO_DAILY_COMPUTE_SECONDS": "86400", "STUDIO_USER_STORAGE_MB": "1000",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        })
        self.env = env
        (self.dir / "var").mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                       cwd=ROOT, env=env, check=True)
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                       cwd=ROOT, env=env, check=True)
        os.environ.update(env)
        import django

        django.setup()
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="load", aws_secret_access_key="load-secret"
                     ).create_bucket(Bucket=BUCKET)
        self._start_supervisor()
        for port in self.ports:
            _wait_http(f"http://127.0.0.1:{port}/healthz", 300, f"daphne on {port}")
        self.wait_workers(self.workers)

    def _start_supervisor(self) -> None:
        conf = self.dir / "supervisord.conf"
        logs = self.dir / "log"
        logs.mkdir(exist_ok=True)
        python = sys.executable
        lines = [
            "[supervisord]", "nodaemon=true", f"logfile={logs}/supervisord.log",
            f"pidfile={self.dir}/supervisord.pid", f"childlogdir={logs}",
            f"user={pwd.getpwuid(os.getuid()).pw_name}",
            "[unix_http_server]", f"file={self.dir}/supervisor.sock",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "[supervisorctl]", f"serverurl=unix://{self.dir}/supervisor.sock",
        ]
        for i, port in enumerate(self.ports):
            lines += [
                f"[program:daphne-{i}]",
                f"command={python} -m studio.serve -t 60 -b 127.0.0.1 -p {port} "
                "studio.asgi:application",
                f"directory={ROOT}", "autorestart=true", "startsecs=2", "redirect_stderr=true",
                f"stdout_logfile={logs}/daphne-{i}.log",
                f'environment=MEDIA_ROOT="{self.dir}/web-{i}"',
            ]
        lines += [
            "[program:worker]",
            f"command={python} manage.py runworker generation",
            "process_name=%(program_name)s-%(process_num)d", f"numprocs={self.workers}",
            f"directory={ROOT}", "autorestart=true", "startsecs=1", "startretries=1000",
            "stopsignal=TERM", "stopwaitsecs=20", "redirect_stderr=true",
            f"stdout_logfile={logs}/worker-%(process_num)d.log",
            f'environment=MEDIA_ROOT="{self.dir}/worker-%(process_num)d"',
        ]
        conf.write_text("\n".join(lines) + "\n")
        self.conf = conf
        self.procs["supervisord"] = subprocess.Popen(
            [str(Path(sys.executable).parent / "supervisord"), "-c", str(conf)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ctl(self, *args: str) -> str:
        out = subprocess.run(
            [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(self.conf), *args],
            capture_output=True, text=True, timeout=60)
        return out.stdout.strip()

    def pids(self) -> dict[str, int]:
        """name -> pid of every running program (and the services)."""
        out = {}
        for line in self.ctl("status").splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "RUNNING" and parts[2] == "pid":
                out[parts[0]] = int(parts[3].rstrip(","))
        for name in ("redis", "s3"):
            if self.procs[name].poll() is None:
                out[name] = self.procs[name].pid
        return out

    def wait_workers(self, count: int, seconds: float = 300) -> None:
        from generation import services

        deadline = time.monotonic() + seconds
        while services.live_worker_count() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} workers did not beat within {seconds:.0f} s")
            time.sleep(0.5)

    # -- faults --------------------------------------------------------------------------------
    def kill_a_worker(self, rng: random.Random) -> str:
        workers = {n: p for n, p in self.pids().items() if n.startswith("worker:")}
        if not workers:
            return "no worker running"
        name = rng.choice(sorted(workers))
        os.kill(workers[name], signal.SIGKILL)
        return name

    def restart_redis(self) -> None:
        stop_process(self.procs["redis"])
        self.procs["redis"], _url = start_redis(self.redis_port)

    # -- stop ----------------------------------------------------------------------------------
    def stop(self) -> None:
        if "supervisord" in self.procs:
            stop_process(self.procs["supervisord"], wait=30)
        for name in ("s3", "redis"):
            if name in self.procs:
                stop_process(self.procs[name])
        self.postgres.stop()


class MemoryWatch(threading.Thread):
    """Samples the peak resident memory (VmHWM) of every process of the stack."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.peak_mb: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            try:
                pids = self.stack.pids()
            except Exception:  # noqa: BLE001 - a sample missed is not a result
                continue
            for name, pid in pids.items():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        mb = int(line.split()[1]) / 1024
                        key = name.split(":")[-1]
                        self.peak_mb[key] = round(max(self.peak_mb.get(key, 0.0), mb), 1)


class Results:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.http = Counter()
        self.ws_drops = 0
        self.ws_opened = 0
        self.submitted: dict[int, float] = {}  # job id -> submit time
        self.seen_final: dict[int, float] = {}  # job id -> when the client saw it end

    def status(self, code: int) -> None:
        with self.lock:
            self.http[str(code)] += 1


class User(threading.Thread):
    """One simulated listener: submits its jobs one after another and follows each."""

    def __init__(self, n: int, jobs: int, ports: list[int], results: Results, deadline: float,
                 on_done) -> None:
        super().__init__(daemon=True)
        from django.contrib.auth import (
            BACKEND_SESSION_KEY,
            HASH_SESSION_KEY,
            SESSION_KEY,
            get_user_model,
        )
        from django.contrib.sessions.backends.db import SessionStore

        from generation.models import ApiToken

        user = get_user_model().objects.create_user(
            f"load{n}", f"load{n}@example.com", PASSWORD)
        key = secrets.token_urlsafe(32)
        ApiToken.objects.create(user=user, digest=ApiToken.digest_of(key))
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        self.token = key
        self.cookie = f"sessionid={session.session_key}"
        self.port = ports[n % len(ports)]  # half the users on each daphne
        self.jobs = jobs
        self.results = results
        self.deadline = deadline
        self.on_done = on_done
        self.seed = n

    def _request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Authorization": f"Token {self.token}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                code, payload = answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            code, payload = exc.code, {}
        except OSError:
            code, payload = 0, {}  # no answer at all (connection refused or reset)
        self.results.status(code)
        return code, payload

    def run(self) -> None:
        for i in range(self.jobs):
            job_id = self._submit(i)
            if job_id is None:
                return
            self._follow(job_id)

    def _submit(self, i: int) -> int | None:
        while time.monotonic() < self.deadline:
            code, payload = self._request("POST", "/api/jobs/", {
                "kind": "compose", "mood": "calm sea at dawn", "bars": 1, "variants": 1,
                "seed": self.seed * 1000 + i})
            if code == 202:
                with self.results.lock:
                    self.results.submitted[payload["id"]] = time.monotonic()
                return payload["id"]
            time.sleep(1.0)  # 429/503 or no answer: try again shortly, as a client would
        return None

    def _follow(self, job_id: int) -> None:
        from websockets.exceptions import ConnectionClosed, WebSocketException
        from websockets.sync.client import connect

        final = ("done", "failed", "cancelled")
        try:
            with connect(f"ws://127.0.0.1:{self.port}/ws/jobs/{job_id}/",
                         additional_headers={"Cookie": self.cookie,
                                             "Origin": f"http://127.0.0.1:{self.port}"},
                         open_timeout=15) as ws:
                with self.results.lock:
                    self.results.ws_opened += 1
                while time.monotonic() < self.deadline:
                    try:
                        state = json.loads(ws.recv(timeout=5))
                    except TimeoutError:
                        # progress events are best effort: ask the API now and then
                        code, state = self._request("GET", f"/api/jobs/{job_id}/")
                    if state.get("status") in final:
                        self._ended(job_id)
                        return
        except (ConnectionClosed, WebSocketException, OSError):
            with self.results.lock:
                self.results.ws_drops += 1
        while time.monotonic() < self.deadline:  # the page's fallback: polling
            code, state = self._request("GET", f"/api/jobs/{job_id}/")
            if state.get("status") in final:
                self._ended(job_id)
                return
            time.sleep(1.0)

    def _ended(self, job_id: int) -> None:
        with self.results.lock:
            self.results.seen_final[job_id] = time.monotonic()
        self.on_done()


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 2)


def throughput(stack: Stack, jobs: int, workers: int, deadline: float) -> float | None:
    """Jobs per minute with ``workers`` workers running: ``jobs`` submitted at once (one per
    throw-away user), timed from the submission to the last one done."""
    from django.contrib.auth import get_user_model

    from generation import services
    from generation.models import Job

    if jobs <= 0:
        return None
    for i in range(stack.workers):
        stack.ctl("start" if i < workers else "stop", f"worker:worker-{i}")
    stack.wait_workers(workers)
    users = [get_user_model().objects.create_user(f"tp{workers}-{i}", f"tp{workers}-{i}@x.org",
                                                  PASSWORD) for i in range(jobs)]
    started = time.monotonic()
    ids = [services.submit_job(user=u, kind="compose", params={"bars": 1, "variants": 1,
                                                               "seed": i}).id
           for i, u in enumerate(users)]
    while Job.objects.filter(id__in=ids, status__in=Job.FINAL).count() < jobs:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)
    return round(jobs / ((time.monotonic() - started) / 60), 2)


def run(args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="cadenza-load-"))
    stack = Stack(workdir, workers=2)
    rng = random.Random(args.seed)
    report: dict = {"parameters": vars(args).copy()}
    started = time.monotonic()
    deadline = started + args.max_seconds
    try:
        stack.start()
        report["start_seconds"] = round(time.monotonic() - started, 1)
        watch = MemoryWatch(stack)
        watch.start()
        per_minute = {w: throughput(stack, args.throughput_jobs, w, deadline) for w in (1, 2)}
        report["throughput_jobs_per_minute"] = {f"{w}_worker{'s' * (w > 1)}": v
                                                for w, v in per_minute.items()}
        if per_minute[1] and per_minute[2]:
            report["throughput_ratio_2_to_1"] = round(per_minute[2] / per_minute[1], 2)

        from generation.models import Job, Track

        results = Results()
        faults: list[str] = []
        # faults are spread over the run: after each equal share of the jobs has ended
        plan = sorted(
            [(round(args.jobs * (i + 1) / (args.kills + 1)), "kill") for i in range(args.kills)]
            + [(round(args.jobs * (i + 1) / (args.redis_restarts + 1)), "redis")
               for i in range(args.redis_restarts)])
        due = threading.Semaphore(0)

        def on_done() -> None:
            due.release()

        per_user = [args.jobs // args.users + (1 if i < args.jobs % args.users else 0)
                    for i in range(args.users)]
        users = [User(i, n, stack.ports, results, deadline, on_done)
                 for i, n in enumerate(per_user) if n]
        load_started = time.monotonic()
        for user in users:
            user.start()
        ended = 0
        while plan and time.monotonic() < deadline:
            if due.acquire(timeout=1):
                ended += 1
            elif not any(u.is_alive() for u in users):
                break
            while plan and ended >= plan[0][0]:
                _, fault = plan.pop(0)
                if fault == "kill":
                    faults.append(f"SIGKILL {stack.kill_a_worker(rng)} after {ended} jobs")
                else:
                    stack.restart_redis()
                    faults.append(f"Redis restarted after {ended} jobs")
        for user in users:
            user.join(max(0.0, deadline - time.monotonic()))
        load_seconds = time.monotonic() - load_started

        ids = list(results.submitted)
        jobs = {j.id: j for j in Job.objects.filter(id__in=ids)}
        tracks = Counter(Track.objects.filter(job_id__in=ids).values_list("job_id", flat=True))
        statuses = Counter(j.status for j in jobs.values())
        latencies = [(j.finished_at - j.created_at).total_seconds()
                     for j in jobs.values() if j.status == "done"]
        by_status = dict(sorted(results.http.items()))
        report.update({
            "jobs_asked": args.jobs,
            "jobs_submitted": len(ids),
            "jobs_done": statuses.get("done", 0),
            "jobs_failed": statuses.get("failed", 0),
            "jobs_lost": sum(1 for j in jobs.values() if j.status not in Job.FINAL)
            + (len(ids) - len(jobs)),
            "jobs_duplicated": sum(1 for job_id, n in tracks.items() if n > 1),
            "jobs_retried": sum(1 for j in jobs.values() if j.attempts > 1),
            "submit_to_done_seconds": {"p50": _percentile(latencies, 50),
                                       "p95": _percentile(latencies, 95)},
            "http_answers_by_status": by_status,
            "http_5xx": sum(n for code, n in by_status.items() if code.startswith("5")),
            "http_no_answer": by_status.get("0", 0),
            "websockets_opened": results.ws_opened,
            "websocket_drops": results.ws_drops,
            "faults": faults,
            "load_seconds": round(load_seconds, 1),
            "load_jobs_per_minute": round(statuses.get("done", 0) / (load_seconds / 60), 2)
            if load_seconds else None,
            "peak_memory_mb": dict(sorted(watch.peak_mb.items())),
            "timed_out": time.monotonic() > deadline,
        })
        watch.stopping.set()
    finally:
        report["total_seconds"] = round(time.monotonic() - started, 1)
        stack.stop()
        if args.keep:
            report["workdir"] = str(workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--redis-restarts", type=int, default=1)
    parser.add_argument("--throughput-jobs", type=int, default=20)
    parser.add_argument("--max-seconds", type=int, default=1800)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report", default=str(ROOT / "reports" / "loadtest.json"))
    parser.add_argument("--keep", action="store_true", help="keep the logs and folders")
    args = parser.parse_args(argv)
    # SIGTERM (a timeout, Ctrl-C's cousin) still stops every process it started
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    report = run(args)
    Path(args.report).parent.mkdir(parents=True, exist_ok=True)
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"report written to {args.report}")
    ok = (report.get("jobs_lost") == 0 and report.get("jobs_duplicated") == 0
          and report.get("http_5xx") == 0
          and report.get("jobs_done") == report.get("jobs_submitted") == args.jobs)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
