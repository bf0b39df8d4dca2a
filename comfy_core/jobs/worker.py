"""The job worker: claims prompts from the store and runs them on its own thread.

GPU work never runs on the event loop. Each job runs inside a copy of the app's contextvars
(so nodes reach folders and settings through comfy_core.runtime) with a fresh interrupt
event; events go out through `publish`, which must be thread-safe (the websocket hub's is).
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import socket
import threading
import traceback
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from comfy_core.jobs.host_memory import heap_trimmer
from comfy_core.jobs.records import Job, now_ms
from comfy_core.jobs.store import JobStore, StoreUnavailableError
from comfy_core.runtime import AppContext, use_app

log = logging.getLogger(__name__)

# publish(kind, data, binary, client_id)
Publish = Callable[[str, dict, "bytes | None", "str | None"], None]
LEASE_SECONDS = 60.0
RECORD_RETRY_S = 0.5
RECORD_RETRY_MAX_S = 5.0


class ExecutorLike(Protocol):
    def run(self, prompt: dict, prompt_id: str, extra_data: dict, outputs: list[str],
            emit: Callable[[Any], None], interrupt: threading.Event) -> Any: ...

    def reset_cache(self) -> None: ...


@dataclass(frozen=True)
class FreeRequest:
    unload_models: bool = False
    free_memory: bool = False


class Worker:
    """One execution thread over one JobStore and one executor."""

    def __init__(self, store: JobStore, executor: ExecutorLike, publish: Publish, *,
                 status_changed: Callable[[], None] = lambda: None,
                 app: AppContext | None = None, memory: Any = None,
                 release_heap: Callable[[], None] | None = None) -> None:
        self.store = store
        self.executor = executor
        self.publish = publish
        self.status_changed = status_changed
        self.memory = memory
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.app = app
        self._release_heap = release_heap or heap_trimmer()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._current: tuple[Job, threading.Event] | None = None
        self._free: FreeRequest | None = None
        self._thread: threading.Thread | None = None

    # -- control (any thread) -----------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="comfy-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Interrupt the running job, stop claiming and join the thread."""
        self._stop.set()
        self.interrupt()
        self.store.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Interrupt the running job (only if it is `prompt_id`, when given)."""
        with self._lock:
            if self._current is None:
                return False
            job, event = self._current
            if prompt_id is not None and job.prompt_id != prompt_id:
                return False
            event.set()
            return True

    def request_free(self, request: FreeRequest) -> None:
        """Reset caches / unload models between jobs (never under a running node)."""
        with self._lock:
            old = self._free or FreeRequest()
            self._free = FreeRequest(old.unload_models or request.unload_models,
                                     old.free_memory or request.free_memory)
        self.store.wake()

    def current(self) -> Job | None:
        with self._lock:
            return self._current[0] if self._current else None

    # -- the thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._apply_free()
                if not self.store.wait_for_work(1.0) or self._stop.is_set():
                    continue
                claimed = self._claim()
            except Exception:  # e.g. the database went away; retry unless stopping
                if self._stop.is_set():
                    break
                log.exception("worker could not claim a job; retrying in 1 s")
                self._stop.wait(1.0)
                continue
            if claimed is None:
                continue
            self.status_changed()
            try:
                contextvars.copy_context().run(self._run_in_app, *claimed)
            except Exception:  # never let one job kill the worker
                log.exception("worker failed around job %s", claimed[0].prompt_id)
            finally:
                with self._lock:
                    self._current = None
            self.status_changed()

    def _claim(self) -> tuple[Job, threading.Event] | None:
        """Claim the next job and make it the current one in one step, so an interrupt sent
        as soon as /queue shows the job running reaches it."""
        with self._lock:
            job = self.store.claim(self.worker_id, LEASE_SECONDS)
            if job is not None:
                self._current = (job, threading.Event())
            return self._current if job is not None else None

    def _run_in_app(self, job: Job, interrupt: threading.Event) -> None:
        if self.app is None:
            self._run_job(job, interrupt)
            return
        with use_app(self.app):
            self._run_job(job, interrupt)

    def _run_job(self, job: Job, interrupt: threading.Event) -> None:
        client_id = job.extra_data.get("client_id")
        beat = Heartbeat(self.store, self.worker_id, job.prompt_id)
        beat.start()
        try:
            try:
                outputs, status, meta = self._execute(job, client_id, interrupt)
            finally:
                with self._lock:
                    self._current = None
            self._after_job()
            self._record(job, outputs, status, meta)
        finally:
            beat.stop()
        self.publish("executing", {"node": None, "prompt_id": job.prompt_id}, None, client_id)

    def _record(self, job: Job, outputs: dict, status: dict, meta: dict) -> None:
        """Store the job's outcome. While the database cannot be written (a full disk) the
        outcome is kept and retried, with the lease still renewed, until it is recorded;
        a worker stopped meanwhile leaves the job to recovery at the next start."""
        delay = RECORD_RETRY_S
        for attempt in itertools.count():
            try:
                self.store.complete(job.prompt_id, outputs, status, meta)
                if attempt:
                    log.warning("recorded the outcome of job %s after %d retries",
                                job.prompt_id, attempt)
                return
            except StoreUnavailableError as exc:
                if not attempt:
                    log.error("cannot record the outcome of job %s yet (%s); retrying until "
                              "the database can be written", job.prompt_id, exc)
                if self._stop.wait(delay):
                    log.error("stopping with the outcome of job %s unrecorded; the next start "
                              "records it as stopped", job.prompt_id)
                    raise
                delay = min(delay * 2, RECORD_RETRY_MAX_S)

    def _after_job(self) -> None:
        """Memory clean-up before the job is reported done, so a client that sees its history
        record sees the settled process (bench/memory_soak.py samples RSS then)."""
        try:
            if self.memory is not None and hasattr(self.memory, "on_prompt_end"):
                self.memory.on_prompt_end()
            self._release_heap()  # keeps RSS flat over many jobs
        except Exception:  # clean-up must never leave the job unrecorded
            log.exception("memory clean-up after a job failed")

    def _execute(self, job: Job, client_id: str | None, interrupt: threading.Event
                 ) -> tuple[dict, dict, dict]:
        def emit(event: Any) -> None:
            self.publish(event.type, event.data, getattr(event, "binary", None), client_id)

        try:
            result = self.executor.run(job.prompt, job.prompt_id, job.run_extra_data(),
                                       job.outputs, emit, interrupt)
        except Exception as exc:  # an executor bug: record it as the job's error
            log.exception("executor raised for prompt %s", job.prompt_id)
            return {}, crash_status(job.prompt_id, exc), {}
        status = {"status_str": result.status_str, "completed": result.completed,
                  "messages": result.messages}
        return result.outputs, status, result.meta

    def _apply_free(self) -> None:
        with self._lock:
            request, self._free = self._free, None
        if request is None:
            return
        if request.free_memory:
            self.executor.reset_cache()
        if (request.unload_models or request.free_memory) and self.memory is not None:
            self.memory.unload_all()
        log.info("freed memory (unload_models=%s, free_memory=%s)", request.unload_models,
                 request.free_memory)


def crash_status(prompt_id: str, exc: BaseException) -> dict:
    """History status of a job whose run raised instead of returning a result."""
    data = {"prompt_id": prompt_id, "node_id": None, "node_type": None, "executed": [],
            "exception_message": str(exc), "exception_type": type(exc).__qualname__,
            "traceback": traceback.format_exception(exc), "current_inputs": {},
            "current_outputs": [], "timestamp": now_ms()}
    return {"status_str": "error", "completed": False, "messages": [["execution_error", data]]}


class Heartbeat:
    """Renews the running job's lease every `interval` seconds. A renewal that fails (the
    database full or locked for a while) is logged and retried at the next beat: the
    thread never dies of it."""

    def __init__(self, store: JobStore, worker_id: str, prompt_id: str, *,
                 interval: float = LEASE_SECONDS / 3,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self._args = (store, worker_id, prompt_id)
        self.interval = interval
        self._on_error = on_error
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="comfy-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        store, worker_id, prompt_id = self._args
        failing = False
        while not self._done.wait(self.interval):
            try:
                store.heartbeat(worker_id, prompt_id, LEASE_SECONDS)
                failing = False
            except Exception as exc:  # any failure: log it, retry at the next beat
                if not failing:
                    log.error("cannot renew the lease of job %s: %s", prompt_id, exc)
                failing = True
                if self._on_error is not None:
                    self._on_error(exc)
