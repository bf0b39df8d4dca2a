"""One worker seen from the server: the job it runs, that job's items in (events
published, files written, history record stored), and the verdict when it is lost.

One long-lived thread per worker follows its jobs one at a time. A job's `run` reply
carries its items; a job that has not answered within BATCH_S gets its event channel
opened (its items while it runs, and beats; see comfy_core.cluster.outbox), and
`heartbeat_timeout` seconds with neither a reply nor a channel item means the process is
hung (or its node unreachable). A dead actor surfaces as an error on either.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from comfy_core.cluster.outbox import BATCH_S
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


class WorkerLink:
    """Follows the jobs of one worker, one at a time, on its own thread; calls
    `on_end(handle, job, lost)` once per job. After a lost job the link is done (the
    worker is replaced, with a link of its own)."""

    def __init__(self, ray: Any, handle: WorkerHandle, *, store: JobStore, sink: FileSink,
                 publish: Publish, heartbeat_timeout: float,
                 on_end: Callable[[WorkerHandle, Job, Lost | None], None],
                 stopping: threading.Event) -> None:
        self.ray, self.handle = ray, handle
        self.store, self.sink, self.publish = store, sink, publish
        self.timeout = heartbeat_timeout
        self.stopping = stopping
        self._on_end = on_end
        self._cond = threading.Condition()
        self._next: tuple[Job, Any] | None = None  # (job, its run() reply)
        self.job: Job | None = None  # the job being followed
        self._closed = False
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"cluster-{handle.worker_id}")
        self._thread.start()

    @property
    def usable(self) -> bool:
        """Whether it can take a next job (open, its thread alive)."""
        with self._cond:
            return not self._closed and self._thread.is_alive()

    def follow(self, job: Job, reply: Any) -> None:
        """Follow `job`, already sent to the worker (`reply`: its run() reference)."""
        with self._cond:
            self._next = (job, reply)
            self.job = job
            self._cond.notify_all()

    def close(self) -> None:
        """End the thread once the job it follows (if any) ended."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    # -- the thread ---------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._next is not None or self._closed)
                if self._next is None:
                    return
                job, reply = self._next
                self._next = None
            lost = self._settle(job, reply)
            with self._cond:
                self.job = None
                if lost is not None:
                    self._closed = True
            self._on_end(self.handle, job, lost)
            if lost is not None:
                return

    def _settle(self, job: Job, reply: Any) -> Lost | None:
        try:
            return _JobFollower(self, job, reply).run()
        except Exception as exc:  # never leave the job without a verdict
            log.exception("following job %s on %s failed", job.prompt_id,
                          self.handle.worker_id)
            return Lost(f"{type(exc).__name__}: {exc}")


class _JobFollower:
    """One job's items, from its channel and its reply, applied in the worker's order."""

    def __init__(self, link: WorkerLink, job: Job, reply: Any) -> None:
        self.link, self.job, self.reply = link, job, reply
        self.wid = link.handle.worker_id
        self.client = job.extra_data.get("client_id")
        self.received = 0  # items applied from the channel
        self.channel: Any = None
        self.tail: tuple[int, list] | None = None  # the reply: (items flushed, the rest)

    def run(self) -> Lost | None:
        errors = self.link.ray.exceptions
        try:
            return self._follow()
        except errors.RayActorError as exc:
            return Lost(f"{self.wid} died: {_first_line(exc)}")
        except errors.RayError as exc:
            return Lost(f"{self.wid} failed: {_first_line(exc)}")

    def _follow(self) -> Lost | None:
        ray, link = self.link.ray, self.link
        try:  # a quick job's whole reply, in one call into Ray
            self.tail = ray.get(self.reply, timeout=BATCH_S)
        except ray.exceptions.GetTimeoutError:
            self.channel = link.handle.actor.events.options(
                num_returns="streaming").remote(self.job.prompt_id)
        renewed = time.monotonic()
        while self.tail is None or self.received < self.tail[0]:
            ready, lost = self._wait()
            if lost is not None:
                return lost
            self._take(ray, ready)
            if time.monotonic() - renewed > LEASE_SECONDS / 3:
                renewed = time.monotonic()
                self._renew()
        return self._apply_tail(self.tail[1])

    def _wait(self) -> tuple[list, Lost | None]:
        """Wait for the reply or the channel's next batch."""
        waiting = ([self.reply] if self.tail is None else []) + (
            [self.channel] if self.channel is not None else [])
        if not waiting:
            return [], Lost(f"{self.wid} sent {self.received} of {self.tail[0]} early items")
        ready, _ = self.link.ray.wait(waiting, num_returns=1, timeout=self.link.timeout)
        if not ready:
            return [], Lost(f"no sign of life from {self.wid} for {self.link.timeout:g} s "
                            f"(hung)", hung=True)
        return ready, None

    def _take(self, ray: Any, ready: list) -> None:
        """The reply, or the channel's next batch, whichever `ready` holds."""
        if self.tail is None and self.reply in ready:
            self.tail = ray.get(self.reply)
            return
        try:
            self._channel_batch(ray.get(next(self.channel)))
        except StopIteration:  # the job ended: the reply has the rest
            self.channel = None

    def _channel_batch(self, batch: tuple[str, int, list]) -> None:
        _, start, items = batch  # no items: a beat
        self._apply(items[max(0, self.received - start):])
        self.received = max(self.received, start + len(items))

    def _apply_tail(self, items: list) -> Lost | None:
        if self._apply(items):
            return None
        return Lost(f"{self.wid} ended the job without a result")

    def _apply(self, items: list) -> bool:
        """Apply a run of stream items: files written and the result recorded first, then
        their messages published, in order and in one go (the event loop wakes once, not
        to contend with this thread for each message). True once the result is
        recorded."""
        messages: list[tuple] = []
        recorded = False
        for item in items:
            kind = item[0]
            if kind == "file":
                _, file_kind, subfolder, filename, data = item
                self.link.sink.store(self.wid, file_kind, subfolder, filename, data)
            elif kind == "event":  # a plugin's own event names its client (None: everyone)
                _, event_type, data, binary, *client = item
                if event_type == "executed" and isinstance(data, dict):
                    data = {**data, "output": self.link.sink.rename_ui(self.wid,
                                                                        data.get("output"))}
                messages.append((event_type, data, binary, client[0] if client else self.client))
            elif kind == "result":
                _, outputs, status, meta = item
                self._record(self.link.sink.rename_outputs(self.wid, outputs), status, meta)
                messages.append(("executing", {"node": None, "prompt_id": self.job.prompt_id},
                                 None, self.client))
                recorded = True
                break
        for message in messages:
            self.link.publish(*message)
        return recorded

    def _record(self, outputs: dict, status: dict, meta: dict) -> None:
        handle = self.link.handle
        status = {**status, "worker": handle.worker_id, "device": handle.device,
                  "hostname": handle.hostname}
        for attempt in itertools.count():
            try:
                self.link.store.complete(self.job.prompt_id, outputs, status, meta)
                return
            except StoreUnavailableError as exc:
                if not attempt:
                    log.error("cannot record the outcome of job %s yet (%s); retrying",
                              self.job.prompt_id, exc)
                if self.link.stopping.wait(RECORD_RETRY_S):
                    raise

    def _renew(self) -> None:
        try:
            self.link.store.heartbeat(self.wid, self.job.prompt_id, LEASE_SECONDS)
        except Exception as exc:  # a full disk: the job goes on, the record waits
            log.error("cannot renew the lease of job %s: %s", self.job.prompt_id, exc)


def _first_line(exc: BaseException) -> str:
    """A short reason: a task error's own cause, else the first line of the message."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
