"""Channels consumers: the background ``generation`` worker and the job progress websocket.

The worker (``manage.py runworker generation``):
- Every process has one ``WorkerRuntime``. It starts when studio.asgi is imported by
  ``runworker generation`` (runworker has no start-up hook, and a consumer instance only
  exists after the first message, so waiting for one would leave an idle worker silent).
- A daemon thread beats the heartbeat every STUDIO_HEARTBEAT_SECONDS (<= 5 s), idle or
  busy, and runs ``services.recover_jobs`` at start and every
  STUDIO_RECOVERY_INTERVAL_SECONDS.
- A ``job.run`` message is only a doorbell: the worker that hears it claims the fairest
  queued job in the database (``services.claim_next_job``), runs it in its handler thread
  (not the heartbeat's, so beats go on during a long model run), and then keeps taking
  queued jobs until none is left. A busy worker does not listen: ``DoorbellWorker`` (the
  worker class of ``manage.py runworker``, see generation/management/commands/runworker.py)
  receives the next message only once the handler is free, so doorbells go to idle workers
  instead of piling up in a busy one's queue; an idle worker also looks in the database
  every STUDIO_RECOVERY_INTERVAL_SECONDS, so a lost doorbell delays nothing for long.
- The pipeline runs in the worker's job child (``job_process``: warm models, a memory
  cap, and a wall deadline after which the child is killed and the job fails). The
  heartbeat says this worker is alive; a job's heartbeat is refreshed only within its
  deadline (plus a grace), so a job the worker could not stop is recovered like one whose
  worker died.
- SIGTERM/SIGINT: the running job is given back to the queue (its attempt not counted),
  the heartbeat row removed, and the process exits with status 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

from asgiref.sync import async_to_sync
from channels.consumer import SyncConsumer
from channels.generic.websocket import JsonWebsocketConsumer
from channels.worker import Worker
from django.conf import settings
from django.db import close_old_connections

from generation import pipeline, services
from generation.job_process import JobLimitExceeded, JobProcess, deadline_seconds
from generation.models import Job

log = logging.getLogger(__name__)


def _is_out_of_memory(exc: BaseException) -> bool:
    name = type(exc).__name__
    return (
        isinstance(exc, MemoryError)
        or name == "OutOfMemoryError"
        or "out of memory" in str(exc).lower()
    )


def _release_gpu_memory() -> None:
    """After an out-of-memory error, hand cached CUDA blocks back so the next job can run."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class WorkerRuntime:
    """The state of one worker process: its id, its job, its heartbeat thread."""

    def __init__(self) -> None:
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self.current_job_id: int | None = None
        self.job_started: float | None = None  # time.monotonic() when the job began
        self.jobs = job_processes()
        self.stopping = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        # held from the moment a doorbell is received until its handler has finished
        self._answering = threading.Lock()

    # -- doorbells -----------------------------------------------------------------------------
    def take_doorbell_turn(self) -> bool:
        """True (and the turn taken) when this worker is free to receive a doorbell."""
        return self._answering.acquire(blocking=False)

    def free_for_doorbell(self) -> None:
        """The doorbell's handler is done; the listener may receive the next one."""
        try:
            self._answering.release()
        except RuntimeError:  # not held: the handler ran without the listener (tests)
            pass

    # -- life cycle ----------------------------------------------------------------------------
    def start(self, *, install_signals: bool = True) -> None:
        """Start the heartbeat/recovery thread and warm the models (once per process)."""
        with self._start_lock:
            if self._started:
                return
            self._started = True
        if install_signals and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True).start()
        threading.Thread(target=self._warm_up, name="warm-up", daemon=True).start()
        log.info("worker %s started", self.worker_id)

    def _warm_up(self) -> None:
        self.jobs.start()  # the job child loads the models, not this process

    def _heartbeat_loop(self) -> None:
        interval = min(5, int(getattr(settings, "STUDIO_HEARTBEAT_SECONDS", 5)))
        recovery_every = int(getattr(settings, "STUDIO_RECOVERY_INTERVAL_SECONDS", 5))
        last_recovery = 0.0
        while not self.stopping.is_set():
            try:
                job_id = self.current_job_id
                services.beat(
                    worker_id=self.worker_id, busy=job_id is not None, job_id=self._live_job(job_id)
                )
                if time.monotonic() - last_recovery >= recovery_every:
                    last_recovery = time.monotonic()
                    counts = services.recover_jobs()
                    if any(counts.values()):
                        log.info("recovery: %s", counts)
            except Exception:  # a database hiccup must not stop the beating
                log.exception("heartbeat/recovery pass failed")
            finally:
                close_old_connections()
            self.stopping.wait(interval)

    def _live_job(self, job_id: int | None) -> int | None:
        """The job whose heartbeat this beat refreshes: the running one, while it is within
        its deadline and a grace for saving; past that the worker failed to stop it, and
        recovery should see it stale."""
        started = self.job_started
        if job_id is None or started is None:
            return job_id
        grace = 2 * int(getattr(settings, "STUDIO_STALE_WORKER_SECONDS", 30))
        return job_id if time.monotonic() - started <= deadline_seconds() + grace else None

    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        log.info("worker %s: signal %s, shutting down", self.worker_id, signum)
        # The main thread runs the event loop, where Django refuses database calls; do the
        # hand-back in a plain thread and wait for it.
        helper = threading.Thread(target=self.shutdown, name="shutdown")
        helper.start()
        helper.join(timeout=20)
        logging.shutdown()
        # Threads blocked in a model run cannot be interrupted; the job is already back in
        # the queue, so leave without waiting for them.
        os._exit(0)

    def shutdown(self) -> None:
        """Give the running job back to the queue and stop beating."""
        self.stopping.set()
        job_id = self.current_job_id
        try:
            if job_id is not None and services.requeue_job(
                job_id=job_id,
                worker_id=self.worker_id,
                reason="waiting for a worker (the previous one shut down)",
            ):
                log.info("job %s re-queued on shutdown", job_id)
            services.forget_worker(worker_id=self.worker_id)
        except Exception:
            log.exception("clean shutdown could not reach the database")
        finally:
            self.jobs.stop()  # after the hand-back, so the job is not failed for it
            close_old_connections()

    # -- jobs ----------------------------------------------------------------------------------
    def run_queued_jobs(self, rung_job_id: int | None = None) -> list[str]:
        """Answer a doorbell: run queued jobs from the database, the fairest first, until
        none is left (or the worker is stopping); what happened to each, in order."""
        outcomes: list[str] = []
        while not self.stopping.is_set():
            outcome = self.run_job(rung_job_id)
            if outcome == "skipped":
                break
            outcomes.append(outcome)
            rung_job_id = None
        return outcomes

    def run_job(self, job_id: int | None = None) -> str:
        """Claim and run one job, the fairest queued one (services.claim_next_job), which may
        not be ``job_id`` (the doorbell's); returns what happened ("skipped": nothing to
        take, "done", "failed", "stopped"). Never raises: one bad job must not take the
        worker down."""
        if self.stopping.is_set():
            return "skipped"
        job = services.claim_next_job(worker_id=self.worker_id)
        if job is None:
            return "skipped"
        if job_id is not None and job.id != job_id:
            log.info("doorbell for job %s: took job %s (fair share)", job_id, job.id)
        self.current_job_id = job.id
        self.job_started = time.monotonic()
        staging = Path(settings.MEDIA_ROOT) / "staging" / f"job-{job.id}-{self.worker_id}"
        try:
            services.beat(worker_id=self.worker_id, busy=True, job_id=job.id)
            return self._execute(job, staging)
        finally:
            self.current_job_id = None
            self.job_started = None
            shutil.rmtree(staging, ignore_errors=True)
            try:
                services.beat(worker_id=self.worker_id, busy=False)
            except Exception:
                log.exception("heartbeat after job %s failed", job_id)

    def _execute(self, job: Job, staging: Path) -> str:
        def progress(percent: int, stage: str) -> bool:
            if self.stopping.is_set():
                return False
            return services.report_progress(
                job_id=job.id, worker_id=self.worker_id, progress=percent, stage=stage
            )

        timings: dict[str, float] = {}
        input_path = services.job_input_path(job)
        started = time.perf_counter()
        try:
            variants = self.jobs.run(
                kind=job.kind,
                params=job.parameters,
                input_path=input_path,
                staging=staging,
                progress=progress,
                timings=timings,
            )
            timings["total"] = time.perf_counter() - started
            if (
                services.finish_job(
                    job_id=job.id,
                    worker_id=self.worker_id,
                    variants=variants,
                    stage_seconds=timings,
                )
                is None
            ):
                log.info("job %s finished here but was no longer ours; discarded", job.id)
                return "stopped"
            return "done"
        except pipeline.Cancelled:
            log.info("job %s stopped at a stage boundary (cancelled or handed back)", job.id)
            return "stopped"
        except JobLimitExceeded as exc:
            if self.stopping.is_set():
                return "stopped"  # the worker stopped the child while shutting down
            services.fail_job(job_id=job.id, worker_id=self.worker_id, message=str(exc))
            return "failed"
        except (pipeline.InvalidJob, pipeline.EngineUnavailable) as exc:
            services.fail_job(job_id=job.id, worker_id=self.worker_id, message=str(exc))
            return "failed"
        except Exception as exc:
            if _is_out_of_memory(exc):
                _release_gpu_memory()
                message = (
                    "The generator ran out of memory for this request; try fewer bars "
                    "or fewer variants."
                )
            else:
                message = "Something went wrong while making this track; it was not retried."
            log.error("job %s failed: %s\n%s", job.id, exc, traceback.format_exc())
            services.fail_job(job_id=job.id, worker_id=self.worker_id, message=message)
            return "failed"


_job_processes: JobProcess | None = None


def job_processes() -> JobProcess:
    """This process's one job child manager (shared by every WorkerRuntime in it)."""
    global _job_processes
    if _job_processes is None:
        _job_processes = JobProcess()
    return _job_processes


runtime = WorkerRuntime()


def _idle_poll_seconds() -> float:
    return float(getattr(settings, "STUDIO_RECOVERY_INTERVAL_SECONDS", 5))


class DoorbellWorker(Worker):
    """channels' Worker, except that it receives a message only when the last one has been
    handled. The stock listener receives as fast as messages come and queues them in the
    process, so a worker busy with a long job would hoard doorbells that an idle worker
    could answer. An idle worker that hears nothing for STUDIO_RECOVERY_INTERVAL_SECONDS
    looks for queued jobs anyway (one query)."""

    async def listener(self, channel):
        while True:
            while not runtime.take_doorbell_turn():
                if self._handler_died(channel):
                    # it died with the message it was given (its own channel's receive fails
                    # when Redis restarts), so nothing will free the turn: free it here
                    runtime.free_for_doorbell()
                await asyncio.sleep(0.05)
            try:
                message = await asyncio.wait_for(self.channel_layer.receive(channel),
                                                 timeout=_idle_poll_seconds())
            except TimeoutError:
                # nobody rang for a while: look in the database all the same, so a job whose
                # doorbell was lost (Redis restarted, the message expired) waits no longer
                message = {"type": "job.run", "job_id": None}
            except BaseException:
                runtime.free_for_doorbell()
                raise
            if message.get("type") != "job.run":
                log.warning("ignoring message of type %r on %s", message.get("type"), channel)
                runtime.free_for_doorbell()
                continue
            scope = {"type": "channel", "channel": channel}
            self._handler_died(channel)  # a dead handler is replaced, not handed the message
            instance_queue = self.get_or_create_application_instance(channel, scope)
            await instance_queue.put(message)  # the handler frees the turn when done

    def _handler_died(self, channel) -> bool:
        """Whether the handler instance for ``channel`` has ended (it ends only by an
        exception); if so it is dropped, with its exception logged, so that the next message
        gets a new one. asgiref's checker would drop it too, but only after a message was
        already queued to the dead instance."""
        details = self.application_instances.get(channel)
        if details is None or not details["future"].done():
            return False
        del self.application_instances[channel]
        future = details["future"]
        error = None if future.cancelled() else future.exception()
        log.warning("the doorbell handler ended (%r); a new one takes the next doorbell", error)
        return True


def _started_by_runworker() -> bool:
    argv = sys.argv
    return len(argv) >= 3 and argv[1] == "runworker" and "generation" in argv[2:]


class GenerationWorker(SyncConsumer):
    """Consumes ``job.run`` messages on the ``generation`` channel."""

    def job_run(self, message: dict) -> None:
        runtime.start(install_signals=False)  # no-op when the import already started it
        job_id = message.get("job_id")  # None: the worker's own look while idle
        if job_id is not None:
            try:
                job_id = int(job_id)
            except (TypeError, ValueError):
                log.warning("malformed job.run message %r: taking queued jobs all the same",
                            message)
                job_id = None
        try:
            outcomes = runtime.run_queued_jobs(job_id)
            if outcomes or job_id is not None:
                log.info("doorbell for job %s: %s", job_id, ", ".join(outcomes) or "nothing to do")
        finally:
            close_old_connections()
            runtime.free_for_doorbell()


class JobProgressConsumer(JsonWebsocketConsumer):
    """``/ws/jobs/<id>/``: the owner hears the job's progress and final state.

    Anyone else (or an anonymous visitor) is refused at the handshake, exactly as for a
    job that does not exist, so ids reveal nothing.
    """

    def connect(self) -> None:
        user = self.scope.get("user")
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        job = None
        if user is not None and user.is_authenticated:
            job = Job.objects.filter(id=job_id, owner=user).first()
        if job is None:
            self.close(code=4404)
            return
        self.group = job.group_name
        async_to_sync(self.channel_layer.group_add)(self.group, self.channel_name)
        self.accept()
        # the current state at once, so a page opened after the job ended still hears it
        self.send_json({"type": "state", **services.job_state(job)})

    def disconnect(self, code) -> None:
        group = getattr(self, "group", None)
        if group:
            async_to_sync(self.channel_layer.group_discard)(group, self.channel_name)

    def receive_json(self, content, **kwargs) -> None:
        """Clients only listen; anything they send is ignored."""

    def job_progress(self, event: dict) -> None:
        if not self._still_signed_in():
            # logged out, password changed, or account deleted since the socket opened
            self.close(code=4401)
            return
        self.send_json({"type": "state", **event["state"]})

    def _still_signed_in(self) -> bool:
        """The session that opened the socket still exists, and its user still exists, is
        active and has the password the session was made with (as Django checks per request)."""
        from django.contrib.auth import HASH_SESSION_KEY, get_user_model
        from django.utils.crypto import constant_time_compare

        session = self.scope.get("session")
        user = self.scope.get("user")
        key = getattr(session, "session_key", None)
        if not key or user is None or not session.exists(key):
            return False
        fresh = get_user_model().objects.filter(pk=user.pk, is_active=True).first()
        return fresh is not None and constant_time_compare(
            session.get(HASH_SESSION_KEY, ""), fresh.get_session_auth_hash()
        )


if _started_by_runworker():
    runtime.start()
