"""What a running job on a worker sends back to the server, and by which of two ways.

A job runs inline in its `run` actor call, and the items it produces (events, files, its
result) return with that call's reply: a quick job crosses to the server in one Ray round
trip. For a job that has not answered within `BATCH_S` the server opens the job's event
channel (a streaming call), which sends the items so far and then what comes at most
every `BATCH_S`, plus a beat after every `BEAT_S` of silence so the server can tell a
long node from a hung process. Each item leaves exactly once: the channel takes a prefix
of the items, the reply carries the rest and says how many the channel took, so the
server publishes them in order.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

BEAT_S = 1.0
BATCH_S = 0.05

# channel batch: (prompt id, index of its first item, items); no items is a beat
ChannelBatch = tuple[str, int, list]


class Outbox:
    """The stream items of one running job. Thread-safe.

    The job's thread never waits for the channel and wakes it only when that changes
    something: the first item after a quiet spell, and the end of the job during one."""

    def __init__(self, prompt_id: str) -> None:
        self.prompt_id = prompt_id
        self.interrupt = threading.Event()
        self._cond = threading.Condition()
        self._items: list[tuple] = []
        self._taken = 0  # items the channel took
        self._closed = False
        self._started = time.monotonic()
        self._last = self._started  # when the channel last sent (the start before)
        self._watching = False  # the channel waits for a first item (or a beat's time)

    def put(self, item: tuple) -> None:
        """Queue one item (an event or a file). Items after the result are dropped."""
        with self._cond:
            if self._closed:
                log.debug("item %r of job %s after its result; dropped", item[:2],
                          self.prompt_id)
                return
            self._items.append(item)
            self._wake_watcher()

    def close(self, result: tuple) -> tuple[int, list]:
        """Append the job's result and end the job: (how many items the channel took,
        the items that go back with the reply)."""
        with self._cond:
            self._items.append(result)
            self._closed = True
            self._wake_watcher()
            return self._taken, self._items[self._taken:]

    def _wake_watcher(self) -> None:
        if self._watching:
            self._watching = False
            self._cond.notify_all()

    def next_batch(self) -> ChannelBatch | None:
        """Block until the channel has something to send for this job: the items queued
        once BATCH_S passed since the start or the last batch, or a beat after BEAT_S of
        silence. None once the job ended (its reply carries the rest)."""
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if now < self._started + BATCH_S:
                    self._cond.wait(self._started + BATCH_S - now)
                    continue
                pending = len(self._items) > self._taken
                if pending and now >= self._last + BATCH_S:
                    start, batch = self._taken, self._items[self._taken:]
                    self._taken, self._last = len(self._items), now
                    return self.prompt_id, start, batch
                if now >= self._last + BEAT_S:
                    self._last = now
                    return self.prompt_id, self._taken, []
                self._watching = not pending
                self._cond.wait(self._last + (BATCH_S if pending else BEAT_S) - now)
                self._watching = False
            return None
