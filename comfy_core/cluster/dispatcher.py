"""The server's side of the cluster: leases pending jobs to free workers and settles the
jobs of workers that were lost. It stands where the in-process `Worker` stands (start,
stop, interrupt, request_free), so the API does not know which one runs the jobs.

One thread chooses (comfy_core.cluster.policy) and claims; each running job has its own
stream thread (comfy_core.cluster.stream). A job whose worker dies or hangs is re-queued
at its place and runs on another worker; after MAX_ATTEMPTS losses it is recorded failed
with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from comfy_core.cluster.policy import PendingJob, WorkerView, assign
from comfy_core.cluster.pool import WorkerHandle
from comfy_core.cluster.stream import JobStream, Lost
from comfy_core.jobs import Job
from comfy_core.jobs.records import now_ms
from comfy_core.jobs.worker import LEASE_SECONDS, FreeRequest, Publish

if TYPE_CHECKING:
    from comfy_core.cluster.cluster import Cluster

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 2  # the first run and exactly one more after a lost worker
WINDOW = 64  # pending jobs considered per round
IDLE_WAIT_S = 0.5
BLOCKED_WAIT_S = 0.2
STOP_JOIN_S = 10.0


def lost_status(prompt_id: str, reason: str) -> dict:
    """History status of a job recorded failed because its workers were lost."""
    error = {"prompt_id": prompt_id, "node_id": None, "node_type": None, "executed": [],
             "exception_message": reason, "exception_type": "WorkerLost", "traceback": [],
             "current_inputs": {}, "current_outputs": [], "timestamp": now_ms()}
    return {"status_str": "error", "completed": False, "messages": [["execution_error", error]]}


class Dispatcher:
    """Runs the store's jobs on the cluster's workers."""

    def __init__(self, cluster: Cluster, publish: Publish,
                 status_changed: Callable[[], None]) -> None:
        self._cluster = cluster
        self._store = cluster.store
        self._publish = publish
        self._status_changed = status_changed
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._lock = threading.Lock()
        self._streams: dict[str, JobStream] = {}  # prompt id -> stream
        self._first_seen: dict[str, float] = {}
        self._thread: threading.Thread | None = None

    # -- the Worker interface ------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cluster-dispatch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = STOP_JOIN_S) -> None:
        """Stop leasing, interrupt the running jobs and wait for their records."""
        self._stop.set()
        self._store.wake()
        self.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
        for stream in self._running_streams():
            stream.thread.join(timeout)

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Interrupt `prompt_id` on its worker, or every running job when None."""
        streams = [s for s in self._running_streams()
                   if prompt_id is None or s.job.prompt_id == prompt_id]
        for stream in streams:
            stream.handle.actor.interrupt.remote(stream.job.prompt_id)
        return bool(streams)

    def request_free(self, request: FreeRequest) -> None:
        """POST /free on every worker (each applies it between jobs)."""
        for handle in self._cluster.pool.ready():
            handle.actor.free.remote(request.unload_models, request.free_memory)
            if request.unload_models or request.free_memory:
                handle.recent.clear()

    def current(self) -> Job | None:
        streams = self._running_streams()
        return streams[0].job if streams else None

    def running(self) -> dict[str, str]:
        """prompt id -> worker id of the jobs running now."""
        return {s.job.prompt_id: s.handle.worker_id for s in self._running_streams()}

    def _running_streams(self) -> list[JobStream]:
        with self._lock:
            return list(self._streams.values())

    # -- the loop -------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                waiting = self._round()
            except Exception:  # e.g. the database went away; retry
                log.exception("cluster dispatch failed; retrying in 1 s")
                self._stop.wait(1.0)
                continue
            if waiting is None:
                self._store.wait_for_work(IDLE_WAIT_S)
            elif waiting:
                self._kick.wait(BLOCKED_WAIT_S)
                self._kick.clear()

    def _round(self) -> bool | None:
        """One dispatch round: None when nothing is pending, True when jobs wait for a
        worker, False when something was started (go again at once)."""
        self._cluster.pool.poll()
        pending = self._store.pending_jobs(WINDOW)
        if not pending:
            self._first_seen.clear()
            return None
        now = time.monotonic()
        seen = {j.prompt_id: self._first_seen.get(j.prompt_id, now) for j in pending}
        self._first_seen = seen
        workers = self._cluster.pool.ready()
        needs = {j.prompt_id: self._cluster.requirements(j.prompt) for j in pending}
        self._fail_unrunnable(pending, needs, workers)
        views = [WorkerView(h.worker_id, h.busy is None, h.last_used, h.held, h.caps)
                 for h in workers]
        jobs = [PendingJob(j.prompt_id, needs[j.prompt_id], now - seen[j.prompt_id])
                for j in pending]
        pairs = assign(jobs, views, locality_wait=self._cluster.flags.locality_wait)
        by_id = {h.worker_id: h for h in workers}
        started = sum(self._start(by_id[w], p, needs[p].files) for p, w in pairs)
        return not started

    def _start(self, handle: WorkerHandle, prompt_id: str, files: frozenset[str]) -> bool:
        job = self._store.claim(handle.worker_id, LEASE_SECONDS, prompt_id=prompt_id)
        if job is None:  # deleted meanwhile
            return False
        handle.busy, handle.last_used = prompt_id, time.monotonic()
        handle.recent.append(files)
        payload = {"prompt_id": job.prompt_id, "prompt": job.prompt,
                   "extra_data": job.run_extra_data(), "outputs": job.outputs,
                   "files": self._cluster.input_files(job.prompt)}
        gen = handle.actor.run.options(num_returns="streaming").remote(payload)
        stream = JobStream(self._cluster.ray, handle, job, gen, store=self._store,
                           sink=self._cluster.sink, publish=self._publish,
                           heartbeat_timeout=self._cluster.flags.heartbeat_timeout,
                           on_end=self._on_end, stopping=self._stop)
        with self._lock:
            self._streams[job.prompt_id] = stream
        self._first_seen.pop(prompt_id, None)
        log.info("job %s -> %s (%s)", prompt_id, handle.worker_id, handle.device)
        stream.start()
        self._status_changed()
        return True

    def _fail_unrunnable(self, pending: list[Job], needs: dict, workers: list[WorkerHandle]
                         ) -> None:
        """Record failed the pending jobs no worker can run while none is starting (the
        worker that had their files is gone)."""
        if self._cluster.pool.starting():
            return
        for job in pending:
            if any(h.caps.can_run(needs[job.prompt_id]) for h in workers):
                continue
            reason = self._cluster.refusal_message(needs[job.prompt_id], workers)
            if self._store.claim("dispatcher", LEASE_SECONDS, prompt_id=job.prompt_id):
                self._finish_failed(job, reason)

    # -- ends ------------------------------------------------------------------------------
    def _on_end(self, handle: WorkerHandle, job: Job, lost: Lost | None) -> None:
        with self._lock:
            self._streams.pop(job.prompt_id, None)
        if lost is None:
            handle.busy = None
        else:
            self._worker_lost(handle, job, lost)
        self._kick.set()
        self._status_changed()

    def _worker_lost(self, handle: WorkerHandle, job: Job, lost: Lost) -> None:
        log.error("lost %s running job %s: %s", handle.worker_id, job.prompt_id, lost.reason)
        if not self._stop.is_set():
            self._cluster.pool.replace(handle)
        attempts = self._store.attempts(job.prompt_id)
        if attempts < MAX_ATTEMPTS and not self._stop.is_set():
            if self._store.requeue(job.prompt_id, handle.worker_id):
                log.warning("job %s re-queued (attempt %d of %d failed: %s)", job.prompt_id,
                            attempts, MAX_ATTEMPTS, lost.reason)
            return
        if self._stop.is_set():
            return  # left running: the next start settles it
        self._finish_failed(job, f"the job's worker was lost {attempts} times; last: "
                                 f"{lost.reason}")

    def _finish_failed(self, job: Job, reason: str) -> None:
        status = lost_status(job.prompt_id, reason)
        self._store.complete(job.prompt_id, {}, status, {})
        client = job.extra_data.get("client_id")
        self._publish("execution_error", status["messages"][0][1], None, client)
        self._publish("executing", {"node": None, "prompt_id": job.prompt_id}, None, client)
        log.error("job %s failed: %s", job.prompt_id, reason)
