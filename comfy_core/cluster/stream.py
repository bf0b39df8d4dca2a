"""One running job on one worker, seen from the server: its event stream in, its files
and events out, its history record written, and the verdict when the worker is lost.

Runs on its own thread. Liveness is the stream itself: the worker yields at least every
`actor.BEAT_S` seconds, so `heartbeat_timeout` seconds of silence means the process is
hung (or its node is unreachable); a dead actor surfaces as an error on the stream.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from comfy_core.cluster.pool import WorkerHandle
from comfy_core.cluster.transfer import FileSink
from comfy_core.jobs import Job, JobStore, StoreUnavailableError
from comfy_core.jobs.worker import LEASE_SECONDS, Publish

log = logging.getLogger(__name__)

RECORD_RETRY_S = 0.5


@dataclass(frozen=True)
class Lost:
    """The worker was lost under the job; `hung` when it is still there but silent."""

    reason: str
    hung: bool = False


class JobStream:
    """Consumes `gen`, the stream of `handle.actor.run` for `job` (submitted by the caller,
    so the worker starts while this thread starts); calls `on_end(handle, job, lost)`
    once."""

    def __init__(self, ray: Any, handle: WorkerHandle, job: Job, gen: Any, *,
                 store: JobStore, sink: FileSink, publish: Publish, heartbeat_timeout: float,
                 on_end: Callable[[WorkerHandle, Job, Lost | None], None],
                 stopping: threading.Event) -> None:
        self._ray = ray
        self.handle, self.job, self._gen = handle, job, gen  # the worker's run() stream
        self._store, self._sink, self._publish = store, sink, publish
        self._timeout = heartbeat_timeout
        self._on_end = on_end
        self._stopping = stopping
        self._client = job.extra_data.get("client_id")
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"cluster-job-{job.prompt_id}")

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        lost: Lost | None
        try:
            lost = self._consume(self._gen)
        except Exception as exc:  # never leave the job without a verdict
            log.exception("stream of job %s on %s failed", self.job.prompt_id,
                          self.handle.worker_id)
            lost = Lost(f"{type(exc).__name__}: {exc}")
        self._on_end(self.handle, self.job, lost)

    def _consume(self, gen: Any) -> Lost | None:
        ray = self._ray
        renewed = time.monotonic()
        while True:
            ready, _ = ray.wait([gen], timeout=self._timeout)
            if not ready:
                return Lost(f"no sign of life from {self.handle.worker_id} for "
                            f"{self._timeout:g} s (hung)", hung=True)
            try:
                batch = ray.get(next(gen))
            except StopIteration:
                return Lost(f"{self.handle.worker_id} ended the job without a result")
            except ray.exceptions.RayActorError as exc:
                return Lost(f"{self.handle.worker_id} died: {_first_line(exc)}")
            except ray.exceptions.RayError as exc:
                return Lost(f"{self.handle.worker_id} failed: {_first_line(exc)}")
            for item in batch:
                if self._handle(item):
                    return None
            if time.monotonic() - renewed > LEASE_SECONDS / 3:
                renewed = time.monotonic()
                self._renew()

    def _handle(self, item: tuple) -> bool:
        """Apply one stream item; True once the job's result is recorded."""
        kind = item[0]
        wid = self.handle.worker_id
        if kind == "file":
            _, file_kind, subfolder, filename, data = item
            self._sink.store(wid, file_kind, subfolder, filename, data)
        elif kind == "event":  # a plugin's own event names its client (None: everyone)
            _, event_type, data, binary, *client = item
            if event_type == "executed" and isinstance(data, dict):
                data = {**data, "output": self._sink.rename_ui(wid, data.get("output"))}
            self._publish(event_type, data, binary, client[0] if client else self._client)
        elif kind == "result":
            _, outputs, status, meta = item
            self._record(self._sink.rename_outputs(wid, outputs), status, meta)
            self._publish("executing", {"node": None, "prompt_id": self.job.prompt_id}, None,
                          self._client)
            return True
        return False

    def _record(self, outputs: dict, status: dict, meta: dict) -> None:
        status = {**status, "worker": self.handle.worker_id, "device": self.handle.device,
                  "hostname": self.handle.hostname}
        for attempt in itertools.count():
            try:
                self._store.complete(self.job.prompt_id, outputs, status, meta)
                return
            except StoreUnavailableError as exc:
                if not attempt:
                    log.error("cannot record the outcome of job %s yet (%s); retrying",
                              self.job.prompt_id, exc)
                if self._stopping.wait(RECORD_RETRY_S):
                    raise

    def _renew(self) -> None:
        try:
            self._store.heartbeat(self.handle.worker_id, self.job.prompt_id, LEASE_SECONDS)
        except Exception as exc:  # a full disk: the job goes on, the record waits
            log.error("cannot renew the lease of job %s: %s", self.job.prompt_id, exc)


def _first_line(exc: BaseException) -> str:
    """A short reason: a task error's own cause, else the first line of the message."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
