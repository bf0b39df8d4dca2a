"""Start-up checks of the job database: a damaged store is refused, never used.

SQLite quietly ignores a damaged write-ahead log past its last good frame and answers
"malformed" on every query of a damaged file, so the server would start empty (losing
the queue and history without a word) or fail every request. Before the store is used:

1. the WAL file, if any, must be whole: a valid header and a length that ends on a frame
   boundary (or just after a frame header, which a crash between SQLite's two writes of
   one frame leaves). A WAL cut anywhere else lost committed records;
2. SQLite must open the file as a database and `PRAGMA quick_check` must answer "ok".

A truncation exactly on a frame boundary looks like an ordinary crash and cannot be told
apart; SQLite then keeps every transaction up to that point.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

WAL_MAGIC = (0x377F0682, 0x377F0683)
WAL_HEADER = 32
FRAME_HEADER = 24


class DamagedStoreError(RuntimeError):
    """The job database is damaged; the message says which file and how to recover."""

    def __init__(self, path: str, problem: str) -> None:
        files = f"{path}, {path}-wal and {path}-shm"
        super().__init__(
            f"the job database {path} is damaged: {problem}. The server will not use it, so "
            f"no queued job or history record is dropped silently. To recover, move {files} "
            f"aside (for example: mv {path} {path}.damaged; the same for -wal and -shm) and "
            "start again: the server then starts with an empty queue and history, and the "
            "moved files can be inspected or repaired with the sqlite3 tool's .recover")
        self.path = path
        self.problem = problem


def wal_problem(db_path: Path) -> str | None:
    """What is wrong with `<db>-wal`, or None when it is absent, empty or whole."""
    wal = Path(f"{db_path}-wal")
    try:
        size = wal.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    if size < WAL_HEADER:
        return f"its write-ahead log {wal} is cut inside its header ({size} bytes)"
    with open(wal, "rb") as f:
        magic, version, page_size = struct.unpack(">III", f.read(12))
    if magic not in WAL_MAGIC or page_size < 512 or page_size & (page_size - 1):
        return f"its write-ahead log {wal} has no valid header"
    frame = FRAME_HEADER + page_size
    rest = (size - WAL_HEADER) % frame
    if rest not in (0, FRAME_HEADER):
        return (f"its write-ahead log {wal} ends {rest} bytes into a {frame}-byte frame "
                "(cut short: its last committed transactions are lost)")
    return None


def database_problem(db: sqlite3.Connection) -> str | None:
    """SQLite's quick check of an open database; None when it answers ok."""
    rows = db.execute("PRAGMA quick_check(5)").fetchall()
    answers = [str(r[0]) for r in rows]
    return None if answers == ["ok"] else "; ".join(answers)
