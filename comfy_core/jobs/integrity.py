"""Start-up checks of the job database: a damaged store is refused, never used.

SQLite quietly ignores a damaged write-ahead log past its last good frame and answers
"malformed" on every query of a damaged file, so the server would start empty (losing
the queue and history without a word) or fail every request. Before the store is used:

1. the WAL file, if any, must be whole: a valid header and a length that ends on a frame
   boundary (or just after a frame header, which a crash between SQLite's two writes of
   one frame leaves). A WAL cut anywhere else lost committed records;
2. without a WAL to replay, the database file must be whole: a length of whole pages,
   at least as many as its header records (SQLite reads the missing end of a cut file as
   nothing and would let the server start empty on it);
3. SQLite must open the file as a database and `PRAGMA quick_check` must answer "ok".

A truncation exactly on a frame boundary looks like an ordinary crash and cannot be told
apart; SQLite then keeps every transaction up to that point.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

WAL_MAGIC = (0x377F0682, 0x377F0683)
DB_MAGIC = b"SQLite format 3\x00"
DB_HEADER = 100
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


def files_problem(db_path: Path) -> str | None:
    """A damaged WAL, or (with no WAL to replay) a database file cut short; None when the
    files look whole (SQLite's own check comes next)."""
    wal = Path(f"{db_path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return wal_problem(db_path)
    return file_problem(db_path)


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


def file_problem(db_path: Path) -> str | None:
    """What is wrong with the length of the database file itself, or None. Only meaningful
    when no WAL is waiting to be replayed (a checkpoint cut short by a crash leaves the
    file shorter than its header says, and the WAL restores it)."""
    try:
        size = db_path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None  # created, never written: nothing to lose
    if size < DB_HEADER:
        return f"the file is cut inside its header ({size} bytes)"
    with open(db_path, "rb") as f:
        header = f.read(DB_HEADER)
    if header[:16] != DB_MAGIC:
        return None  # not SQLite at all: SQLite itself says so
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return f"its header names an impossible page size ({page_size})"
    if size % page_size:
        return (f"its length ({size} bytes) is not a whole number of {page_size}-byte pages "
                "(cut short)")
    change, pages = struct.unpack(">II", header[24:32])
    valid_for = struct.unpack(">I", header[92:96])[0]
    if pages and change == valid_for and pages * page_size > size:
        return f"it holds {size // page_size} of its {pages} pages (cut short)"
    return None


def database_problem(db: sqlite3.Connection) -> str | None:
    """SQLite's quick check of an open database; None when it answers ok."""
    rows = db.execute("PRAGMA quick_check(5)").fetchall()
    answers = [str(r[0]) for r in rows]
    return None if answers == ["ok"] else "; ".join(answers)
