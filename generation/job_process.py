"""Each job's work (model, MusicXML, SVG, audio, piano roll) runs in a child process with
limits, so a stuck or greedy job cannot hold a worker forever (issue 17).

- One long-lived child per worker process (``JobProcess``), started at worker start, which
  loads the models once (``pipeline.warm_up``) and then runs one job after another: jobs
  meet warm models, as they did in the worker itself.
- The child's address space is capped (``resource.setrlimit(RLIMIT_AS)``,
  STUDIO_JOB_MEMORY_MB) when the engine runs on the CPU; an allocation beyond it fails in the
  child (MemoryError, or the child dies), never in the worker. CUDA reserves far more address
  space than it uses, so on a CUDA device the cap is not applied (the GPU has its own limit
  and the wall deadline still holds).
- Each job has a wall deadline (STUDIO_JOB_DEADLINE_SECONDS, counted from when the child,
  models loaded, takes the job). When it passes, the worker kills the child with SIGKILL, the job fails with a
  plain message, and a fresh child is started (warming up in the background) for the next
  job. A child that dies on its own (out of memory, a crash in C code) fails its job the
  same way and is replaced.
- The child asks the worker at each stage boundary whether to go on (``progress``), so a
  cancelled job still stops between stages; it watches its parent and exits when the worker
  is gone (killed with SIGKILL or stopped), so no orphan goes on rendering.

The worker's heartbeat says the worker is alive; the deadline, not the heartbeat, bounds how
long a job may run. This module imports Django only for settings.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from django.conf import settings

from generation import pipeline

log = logging.getLogger(__name__)

# the settings the pipeline reads, sent with each job so the child runs under exactly the
# worker's settings (also when a test changes them after the child started)
PIPELINE_SETTINGS = (
    "STUDIO_MAX_UPLOAD_BYTES",
    "STUDIO_MAX_PARALLEL_PARSES",
    "STUDIO_DEVICE",
    "STUDIO_MODEL",
    "STUDIO_COMPOSE_MODULE",
    "STUDIO_TRANSFER_MODULE",
    "STUDIO_AUDIO_FORMAT",
    "SOUNDFONT_PATH",
)
PARENT_CHECK_SECONDS = 1.0
START_TIMEOUT_SECONDS = 300  # importing torch and loading the models on busy cores


class JobLimitExceeded(RuntimeError):
    """The job ran past its deadline or its memory cap, or its process died; the message is
    for the person who asked for it."""


def _pipeline_settings() -> dict[str, Any]:
    return {name: getattr(settings, name, "") for name in PIPELINE_SETTINGS}


def deadline_seconds() -> int:
    return int(settings.STUDIO_JOB_DEADLINE_SECONDS)


def memory_cap_bytes() -> int:
    return int(settings.STUDIO_JOB_MEMORY_MB) * 1024 * 1024


def _deadline_message(seconds: float) -> str:
    minutes = seconds / 60
    span = f"{minutes:g} minutes" if seconds >= 120 else f"{seconds:g} seconds"
    return (
        f"This job ran past its time limit of {span} and was stopped; "
        "try fewer bars or fewer variants."
    )


OUT_OF_MEMORY_MESSAGE = (
    "The generator ran out of memory for this request; try fewer bars or fewer variants."
)
NOT_READY_MESSAGE = (
    "The worker could not get its generator ready in time; please try again in a few minutes."
)
DIED_MESSAGE = (
    "The process making this track stopped unexpectedly (it may have run out of memory); "
    "try fewer bars or fewer variants."
)


# ---------------------------------------------------------------------------------------------
# The child
# ---------------------------------------------------------------------------------------------
def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)  # the worker is gone: nobody waits for this job
        time.sleep(PARENT_CHECK_SECONDS)


def _is_out_of_memory(exc: BaseException) -> bool:
    return (
        isinstance(exc, MemoryError)
        or type(exc).__name__ == "OutOfMemoryError"
        or "out of memory" in str(exc).lower()
    )


def _child_main(conn, parent_pid: int, memory_bytes: int, overrides: dict[str, Any]) -> None:
    """The child's whole life: cap, warm up, then run jobs until told to stop."""
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    import django

    django.setup()
    from django.conf import settings as child_settings

    for name, value in overrides.items():
        setattr(child_settings, name, value)
    if memory_bytes > 0 and pipeline.device() == "cpu":
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    pipeline.warm_up()
    log.info("job child %s ready", os.getpid())
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "stop":
            return
        _, spec = message
        for name, value in spec["settings"].items():
            setattr(child_settings, name, value)
        conn.send(_run_in_child(conn, spec))


def _run_in_child(conn, spec: dict[str, Any]) -> tuple:
    def progress(percent: int, stage: str) -> bool:
        conn.send(("progress", percent, stage))
        return bool(conn.recv())

    timings: dict[str, float] = {}
    try:
        variants = pipeline.run_pipeline(
            kind=spec["kind"],
            params=spec["params"],
            input_path=Path(spec["input_path"]) if spec["input_path"] else None,
            staging=Path(spec["staging"]),
            progress=progress,
            timings=timings,
            title=spec.get("title", ""),
        )
        return ("done", variants, timings)
    except pipeline.Cancelled as exc:
        return ("cancelled", str(exc))
    except pipeline.InvalidJob as exc:
        return ("invalid", str(exc))
    except pipeline.EngineUnavailable as exc:
        return ("unavailable", str(exc))
    except BaseException as exc:  # noqa: BLE001 - everything else is reported, the child lives
        if _is_out_of_memory(exc):
            _release_gpu_memory()
            return ("memory", str(exc))
        return ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _release_gpu_memory() -> None:
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# The worker's side
# ---------------------------------------------------------------------------------------------
class JobProcess:
    """The worker's one job child: started on demand (or ahead with ``start``), replaced when
    it is killed or dies. One job at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one job, one start at a time
        self._process = None
        self._conn = None
        self._ready = False
        self._stopping = False

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the child (warming its models) if none is running; does not wait for it."""
        with self._lock:
            if not self._stopping:
                self._ensure_started()

    def _ensure_started(self) -> None:
        if self._stopping:
            raise EOFError  # the worker is shutting down
        if self._process is not None and self._process.is_alive():
            return
        self._discard()
        context = multiprocessing.get_context("spawn")  # no inherited threads or locks
        parent_conn, child_conn = context.Pipe()
        process = context.Process(
            target=_child_main,
            args=(child_conn, os.getpid(), memory_cap_bytes(), _pipeline_settings()),
            name="job-child",
            daemon=True,
        )
        process.start()
        child_conn.close()
        self._process, self._conn, self._ready = process, parent_conn, False
        log.info("job child %s started", process.pid)

    def _wait_ready(self, until: float) -> None:
        while not self._ready:
            remaining = until - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if self._conn.poll(min(remaining, 0.5)):
                message = self._conn.recv()
                if message[0] == "ready":
                    self._ready = True
            elif not self._process.is_alive():
                raise EOFError

    def _discard(self) -> None:
        """Kill and forget the child (its models go with it)."""
        process, conn = self._process, self._conn
        self._process, self._conn, self._ready = None, None, False
        if conn is not None:
            conn.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(timeout=10)

    def stop(self) -> None:
        """Stop the child (worker shutdown). Safe to call from a signal helper thread while a
        job runs: the job's wait then sees the child gone."""
        self._stopping = True
        process = self._process
        if process is not None and process.is_alive():
            process.kill()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # -- one job -------------------------------------------------------------------------------
    def run(
        self,
        *,
        kind: str,
        params: dict[str, Any],
        input_path: Path | None,
        staging: Path,
        progress: pipeline.Progress,
        timings: dict[str, float],
        title: str = "",
    ) -> list[pipeline.Variant]:
        """``pipeline.run_pipeline`` in the child, within the deadline. Raises what it raises
        (InvalidJob, EngineUnavailable, Cancelled) and JobLimitExceeded."""
        seconds = deadline_seconds()
        spec = {
            "kind": kind,
            "params": params,
            "input_path": str(input_path) if input_path else None,
            "staging": str(staging),
            "title": title,
            "settings": _pipeline_settings(),
        }
        with self._lock:
            try:
                self._ensure_started()
                try:
                    # a fresh child loads the models first; that is not the job's time
                    self._wait_ready(time.monotonic() + START_TIMEOUT_SECONDS)
                except TimeoutError:
                    log.warning("job process not ready in %s s", START_TIMEOUT_SECONDS)
                    self._discard()
                    raise JobLimitExceeded(NOT_READY_MESSAGE) from None
                until = time.monotonic() + seconds
                self._conn.send(("run", spec))
                while True:
                    remaining = until - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    if not self._conn.poll(min(remaining, 0.5)):
                        if not self._process.is_alive():
                            raise EOFError
                        continue
                    message = self._conn.recv()
                    if message[0] == "progress":
                        try:
                            go = bool(progress(message[1], message[2]))
                        except BaseException:
                            self._discard()  # it waits for an answer that will not come
                            raise
                        self._conn.send(go)
                        continue
                    return _outcome(message, timings)
            except TimeoutError:
                log.warning("job ran past its deadline of %s s; killing its process", seconds)
                self._discard()
                raise JobLimitExceeded(_deadline_message(seconds)) from None
            except (EOFError, OSError):
                code = self._process.exitcode if self._process is not None else None
                log.warning("job process died (exit code %s)", code)
                self._discard()
                raise JobLimitExceeded(DIED_MESSAGE) from None
            finally:
                if self._process is None and not self._stopping:
                    # replaced at once, so the next job meets warm models
                    self._ensure_started()


def _outcome(message: tuple, timings: dict[str, float]) -> list[pipeline.Variant]:
    what = message[0]
    if what == "done":
        timings.update(message[2])
        return message[1]
    if what == "cancelled":
        raise pipeline.Cancelled(message[1])
    if what == "invalid":
        raise pipeline.InvalidJob(message[1])
    if what == "unavailable":
        raise pipeline.EngineUnavailable(message[1])
    if what == "memory":
        log.warning("job ran out of memory in its process: %s", message[1])
        raise JobLimitExceeded(OUT_OF_MEMORY_MESSAGE)
    log.error("job failed in its process: %s\n%s", message[1], message[2])
    raise RuntimeError(message[1])
