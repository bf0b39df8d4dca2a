"""The server's side of the cluster: leases pending jobs to free workers and settles the
jobs of workers that were lost. It stands where the in-process `Worker` stands (start,
stop, interrupt, request_free), so the API does not know which one runs the jobs.

One thread chooses (comfy_core.cluster.policy), claims and sends each job to its worker;
each worker has one link thread that follows its jobs (comfy_core.cluster.stream). A job
whose worker dies or hangs is re-queued at its place and runs on another worker; after
MAX_ATTEMPTS losses it is recorded failed with the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

from comfy_core.cluster.policy import PendingJob, WorkerView, assign
from comfy_core.cluster.pool import WorkerHandle
from comfy_core.cluster.stream import Lost, WorkerLink
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
        self._links: dict[str, WorkerLink] = {}  # worker id -> its link
        self._frees: dict[str, tuple[bool, bool]] = {}  # worker id -> /free for its next job
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
        with self._lock:
            links = list(self._links.values())
        for link in links:  # each ends once its job (if any) is recorded
            link.close()
        for link in links:
            link.join(timeout)

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Interrupt `prompt_id` on its worker, or every running job when None."""
        running = [(link, job) for link, job in self._running()
                   if prompt_id is None or job.prompt_id == prompt_id]
        for link, job in running:
            link.handle.actor.interrupt.remote(job.prompt_id)
        return bool(running)

    def request_free(self, request: FreeRequest) -> None:
        """POST /free on every worker: at once on an idle one, after its job on a busy
        one, and in any case before the next job sent to it (which carries it)."""
        wanted = (request.unload_models, request.free_memory)
        for handle in self._cluster.pool.ready():
            with self._lock:
                old = self._frees.get(handle.worker_id, (False, False))
                self._frees[handle.worker_id] = (old[0] or wanted[0], old[1] or wanted[1])
            handle.actor.free.remote(*wanted)
            if request.unload_models or request.free_memory:
                handle.recent.clear()

    def current(self) -> Job | None:
        running = self._running()
        return running[0][1] if running else None

    def running(self) -> dict[str, str]:
        """prompt id -> worker id of the jobs running now."""
        return {job.prompt_id: link.handle.worker_id for link, job in self._running()}

    def _running(self) -> list[tuple[WorkerLink, Job]]:
        with self._lock:
            links = list(self._links.values())
        return [(link, job) for link in links if (job := link.job) is not None]

    # -- the loop -------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.clear()  # a job that ends from here on kicks the wait below
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

    def _round(self) -> bool | None:
        """One dispatch round: None when nothing is (left) pending, so the loop sleeps
        until a submit; True when jobs wait for a worker, so it sleeps until a job ends
        (or BLOCKED_WAIT_S); False when something started and a worker is still free (go
        again at once). A job that ends wakes the loop only when jobs wait for it."""
        self._cluster.pool.poll()
        self._sync_links()
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
        if started == len(pending):
            return None
        return not started or all(h.busy is not None for h in workers)

    def _start(self, handle: WorkerHandle, prompt_id: str, files: frozenset[str]) -> bool:
        job = self._store.claim(handle.worker_id, LEASE_SECONDS, prompt_id=prompt_id)
        if job is None:  # deleted meanwhile
            return False
        handle.busy, handle.last_used = prompt_id, time.monotonic()
        handle.recent.append(files)
        with self._lock:
            free = self._frees.pop(handle.worker_id, None)
        payload = {"prompt_id": job.prompt_id, "prompt": job.prompt,
                   "extra_data": job.run_extra_data(), "outputs": job.outputs,
                   "files": self._cluster.input_files(job.prompt), "free": free}
        reply = handle.actor.run.remote(payload)  # the worker starts at once
        self._link(handle).follow(job, reply)
        self._first_seen.pop(prompt_id, None)
        log.info("job %s -> %s (%s)", prompt_id, handle.worker_id, handle.device)
        self._status_changed()
        return True

    def _link(self, handle: WorkerHandle) -> WorkerLink:
        """The worker's link (made here if it has none yet)."""
        with self._lock:
            link = self._links.get(handle.worker_id)
            if link is None or not link.usable:
                link = WorkerLink(self._cluster.ray, handle, store=self._store,
                                  sink=self._cluster.sink, publish=self._publish,
                                  heartbeat_timeout=self._cluster.flags.heartbeat_timeout,
                                  on_end=self._on_end, stopping=self._stop)
                self._links[handle.worker_id] = link
            return link

    def _sync_links(self) -> None:
        """A link (and its thread) for every ready worker before its first job, not on
        that job's path; close the links (and forget the /free) of workers that were
        replaced."""
        pool = self._cluster.pool
        for handle in pool.ready():
            if handle.worker_id not in self._links:
                self._link(handle)
        with self._lock:
            gone = [w for w, link in self._links.items() if not link.handle.alive]
            links = [self._links.pop(w) for w in gone]
            for worker_id in [w for w in self._frees if pool.get(w) is None]:
                del self._frees[worker_id]
        for link in links:
            link.close()

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
