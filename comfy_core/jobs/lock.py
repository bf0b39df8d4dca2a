"""One process per job database: an exclusive lock on `<database>.lock` naming its holder.

Two servers on one user folder would claim the same jobs, and one's `--requeue-running`
would re-run a job the other is running. The store takes an advisory `flock` on a file
beside the database before opening it and writes who holds it (pid, host, what the
process serves, since when) into that file. The kernel drops the lock when the process
ends, however it ends (SIGKILL included), so a lock is never stale. A second process gets
StoreLockedError naming the holder. (Advisory locks do not reach across machines on some
network filesystems; give each machine its own database there.)
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; the lock is skipped there
    fcntl = None  # type: ignore[assignment]


class StoreLockedError(RuntimeError):
    """Another process holds the job database; the message names it."""

    def __init__(self, path: str, holder: str) -> None:
        super().__init__(
            f"the job database {path} is in use by another server ({holder}); stop that "
            "server first, or give this one its own --user-directory or --database")
        self.path = path
        self.holder = holder


class StoreLock:
    """The held lock of one database file; `release` (or process exit) frees it."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    @classmethod
    def acquire(cls, db_path: str, owner: str | None = None) -> StoreLock:
        """Lock `<db_path>.lock` or raise StoreLockedError naming the holder."""
        if fcntl is None or db_path == ":memory:":
            return cls(None)
        lock_path = Path(f"{db_path}.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.pread(fd, 4096, 0))
            os.close(fd)
            raise StoreLockedError(db_path, holder) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "owner": owner,
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _describe(raw: bytes) -> str:
    """Human words for the holder info in a lock file."""
    try:
        info = json.loads(raw)
        words = f"pid {info['pid']} on {info['host']}"
        if info.get("owner"):
            words += f", {info['owner']}"
        return f"{words}, since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "a process that did not say who it is"
