"""A logging handler that keeps recent log lines for /internal/logs and log subscribers."""

from __future__ import annotations

import collections
import datetime
import logging
import threading
from typing import Callable

Listener = Callable[[list[dict]], None]


class LogBuffer(logging.Handler):
    """Ring buffer of formatted records; listeners get each new entry (from any thread)."""

    def __init__(self, capacity: int = 300) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))
        self._entries: collections.deque[dict] = collections.deque(maxlen=capacity)
        self._listeners: list[Listener] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = {"t": datetime.datetime.fromtimestamp(record.created).isoformat(),
                     "m": self.format(record) + "\n"}
        except Exception:  # a bad log call must never break the caller
            return
        with self._guard:
            self._entries.append(entry)
            listeners = list(self._listeners)
        for listener in listeners:
            listener([entry])

    def entries(self) -> list[dict]:
        with self._guard:
            return list(self._entries)

    def text(self) -> str:
        return "".join(e["m"] for e in self.entries())

    def add_listener(self, listener: Listener) -> None:
        with self._guard:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._guard:
            if listener in self._listeners:
                self._listeners.remove(listener)
