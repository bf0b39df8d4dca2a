"""Durable queue and history in one SQLite file (WAL): submit, claim, complete, recover.

One server process owns a database file. Jobs move pending -> running (claimed with a
worker id and a lease) -> done (a history record). At start, `recover` settles jobs that
were running when the previous process died. Credentials in extra_data are never written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from comfy_core.jobs.integrity import DamagedStoreError, database_problem, files_problem
from comfy_core.jobs.lock import StoreLock
from comfy_core.jobs.records import (
    STOPPED_REASON,
    HistoryView,
    Job,
    history_record,
    job_status_of,
    message_times,
    now_ms,
    split_sensitive,
    stopped_status,
    without_workflow,
    workflow_id_of,
)

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt_id TEXT UNIQUE NOT NULL,
    number NOT NULL,
    prompt TEXT NOT NULL,
    extra_data TEXT NOT NULL,
    outputs TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done')),
    create_time INTEGER,
    workflow_id TEXT,
    worker_id TEXT,
    lease_expires REAL,
    history_seq INTEGER,
    result TEXT,
    job_status TEXT,
    exec_start INTEGER,
    exec_end INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (state, number, seq);
CREATE INDEX IF NOT EXISTS jobs_history ON jobs (history_seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
"""
_JOB_COLS = "prompt_id, number, prompt, extra_data, outputs"
# SQLite's page cache per connection, in KiB. The default (2 MiB) fills as history grows
# and read as a slow leak in the memory soak; the OS caches the file anyway, so a miss
# costs one read call, and the per-job queries touch a handful of index pages.
PAGE_CACHE_KIB = 256


class DuplicatePromptError(ValueError):
    """A prompt id that is already queued or in history was submitted again."""


class StoreUnavailableError(RuntimeError):
    """The database cannot be written now (disk full, I/O error, locked by another
    process); nothing was changed. The message names the file."""

    def __init__(self, path: str, cause: sqlite3.Error) -> None:
        super().__init__(f"the job database {path} cannot be written: {cause}")
        self.path = path
        self.cause = cause


class JobStore:
    """Queue + history of one server. Thread-safe: every call holds one lock."""

    def __init__(self, path: Path | str, *, max_history: int = 10000,
                 owner: str | None = None) -> None:
        """Open (or create) the store at `path`, locked for this process; `owner` says
        what holds it (shown to a second process that is refused)."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._file_lock = StoreLock.acquire(self.path, owner)
        try:
            problem = files_problem(Path(self.path)) if self.path != ":memory:" else None
            if problem is not None:
                raise DamagedStoreError(self.path, problem)
            self._db = self._open()
        except BaseException:
            self._file_lock.release()
            raise
        self.max_history = max_history
        self._lock = threading.RLock()
        self._work = threading.Condition(self._lock)
        self._secrets: dict[str, dict] = {}

    def _open(self) -> sqlite3.Connection:
        """Connect, check the file (quick_check) and create the tables. Raises
        DamagedStoreError for a damaged file, StoreUnavailableError when it cannot be
        opened or written; the file is left as it was."""
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
            problem = database_problem(db)
            if problem is not None:
                raise DamagedStoreError(self.path, problem)
            db.executescript(_SCHEMA)
            _add_missing_columns(db)
        except sqlite3.OperationalError as exc:
            db.close()
            raise StoreUnavailableError(self.path, exc) from exc
        except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed"
            db.close()
            raise DamagedStoreError(self.path, str(exc)) from exc
        except DamagedStoreError:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._file_lock.release()

    # -- transactions -------------------------------------------------------------------
    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (callers hold the lock); SQLite's write failures (a full
        disk, I/O errors, a lock held elsewhere) become StoreUnavailableError."""
        with self._writing():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise StoreUnavailableError(self.path, exc) from exc

    def _next_counter(self, db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key='counter'").fetchone()
        value = int(row[0]) if row else 0
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('counter', ?)", (value + 1,))
        return value

    # -- queue ----------------------------------------------------------------------------
    def submit(self, prompt_id: str, prompt: dict, extra_data: dict, outputs: list[str], *,
               number: int | float | None = None, front: bool = False) -> Job:
        """Queue a prompt. Without `number` the server counter is used (negated for
        `front`). Raises DuplicatePromptError if `prompt_id` is already known."""
        public, secret = split_sensitive(extra_data)
        with self._work, self._tx() as db:
            if db.execute("SELECT 1 FROM jobs WHERE prompt_id=?", (prompt_id,)).fetchone():
                raise DuplicatePromptError(f"prompt_id {prompt_id!r} is already queued or in "
                                           "history")
            if number is None:
                counter = self._next_counter(db)
                number = -counter if front else counter
            else:
                number = float(number)
            db.execute(
                "INSERT INTO jobs (prompt_id, number, prompt, extra_data, outputs, state, "
                "create_time, workflow_id) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (prompt_id, number, json.dumps(prompt), json.dumps(public), json.dumps(outputs),
                 public.get("create_time", now_ms()), workflow_id_of(public)))
            if secret:
                self._secrets[prompt_id] = secret
            self._work.notify_all()
        return Job(prompt_id, number, prompt, public, list(outputs), secret)

    def wait_for_work(self, timeout: float) -> bool:
        """Block up to `timeout` s until a job may be pending; True if one is."""
        with self._work:
            if self._count("pending") == 0:
                self._work.wait(timeout)
            return self._count("pending") > 0

    def wake(self) -> None:
        """Wake threads blocked in wait_for_work (used at shutdown)."""
        with self._work:
            self._work.notify_all()

    def claim(self, worker_id: str, lease_s: float = 60.0, prompt_id: str | None = None
              ) -> Job | None:
        """Take the first pending job (lowest number, then oldest) for `worker_id`, or the
        pending job `prompt_id` when given (None if it is no longer pending). Each claim
        counts as one attempt at the job."""
        where, params = ("prompt_id=? AND ", (prompt_id,)) if prompt_id is not None else ("", ())
        with self._lock, self._tx() as db:
            row = db.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE {where}state='pending' "
                             "ORDER BY number, seq LIMIT 1", params).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state='running', worker_id=?, lease_expires=?, "
                       "attempts=attempts+1 WHERE prompt_id=?",
                       (worker_id, time.time() + lease_s, row[0]))
            return self._job(row)

    def pending_jobs(self, limit: int) -> list[Job]:
        """The first `limit` pending jobs in run order (a dispatcher choosing among them)."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE state='pending' "
                                    "ORDER BY number, seq LIMIT ?", (limit,)).fetchall()
        return [self._job(r) for r in rows]

    def attempts(self, prompt_id: str) -> int:
        """How many times the job was claimed (0 when unknown)."""
        with self._lock:
            row = self._db.execute("SELECT attempts FROM jobs WHERE prompt_id=?",
                                   (prompt_id,)).fetchone()
        return int(row[0]) if row else 0

    def requeue(self, prompt_id: str, worker_id: str) -> bool:
        """Put a job that `worker_id` was running back in the queue at its old place (its
        worker was lost); False if the job is not running there."""
        with self._work, self._writing():
            cur = self._db.execute("UPDATE jobs SET state='pending', worker_id=NULL, "
                                   "lease_expires=NULL WHERE prompt_id=? AND worker_id=? AND "
                                   "state='running'", (prompt_id, worker_id))
            self._work.notify_all()
            return cur.rowcount == 1

    def heartbeat(self, worker_id: str, prompt_id: str, lease_s: float = 60.0) -> bool:
        """Extend the lease of a running job; False if the job is no longer ours."""
        with self._lock, self._writing():
            cur = self._db.execute(
                "UPDATE jobs SET lease_expires=? WHERE prompt_id=? AND worker_id=? AND "
                "state='running'", (time.time() + lease_s, prompt_id, worker_id))
            return cur.rowcount == 1

    def complete(self, prompt_id: str, outputs: dict, status: dict, meta: dict) -> dict:
        """Store the history record of a finished job and trim history; returns the record."""
        start, end, _ = message_times(status)
        result = json.dumps({"outputs": outputs, "status": status, "meta": meta})
        with self._lock, self._tx() as db:
            seq = db.execute("SELECT COALESCE(MAX(history_seq), 0) + 1 FROM jobs").fetchone()[0]
            cur = db.execute(
                "UPDATE jobs SET state='done', history_seq=?, result=?, job_status=?, "
                "exec_start=?, exec_end=?, worker_id=NULL, lease_expires=NULL "
                "WHERE prompt_id=?", (seq, result, job_status_of(status), start, end, prompt_id))
            if cur.rowcount != 1:
                raise KeyError(f"cannot complete unknown prompt {prompt_id!r}")
            self._trim(db)
            row = db.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE prompt_id=?",
                             (prompt_id,)).fetchone()
        self._secrets.pop(prompt_id, None)
        return history_record(self._job(row), outputs, status, meta)

    def _trim(self, db: sqlite3.Connection) -> None:
        total = db.execute("SELECT COUNT(*) FROM jobs WHERE state='done'").fetchone()[0]
        excess = total - self.max_history
        if excess > 0:
            # only done rows have a history_seq: this walks the history index, not the table
            db.execute("DELETE FROM jobs WHERE prompt_id IN (SELECT prompt_id FROM jobs WHERE "
                       "history_seq IS NOT NULL ORDER BY history_seq LIMIT ?)", (excess,))
            log.info("history over its cap of %d: removed the %d oldest record(s)",
                     self.max_history, excess)

    def recover(self, *, requeue: bool = False, max_attempts: int | None = None
                ) -> list[tuple[str, str]]:
        """Settle jobs left running by a dead process: re-queue them (`requeue`, or while
        they have had fewer than `max_attempts` attempts) or record them as failed with the
        reason. Returns (prompt_id, "requeued"|"failed") pairs."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_JOB_COLS}, attempts FROM jobs WHERE "
                                    "state='running' ORDER BY number, seq").fetchall()
        done: list[tuple[str, str]] = []
        for row in rows:
            job, attempts = self._job(row[:5]), int(row[5])
            if requeue or (max_attempts is not None and attempts < max_attempts):
                with self._work, self._writing():
                    self._db.execute("UPDATE jobs SET state='pending', worker_id=NULL, "
                                     "lease_expires=NULL WHERE prompt_id=?", (job.prompt_id,))
                    self._work.notify_all()
                done.append((job.prompt_id, "requeued"))
            else:
                reason = STOPPED_REASON if max_attempts is None else (
                    f"{STOPPED_REASON} (attempt {attempts} of {max_attempts})")
                self.complete(job.prompt_id, {}, stopped_status(job.prompt_id, reason), {})
                done.append((job.prompt_id, "failed"))
            log.warning("job %s was running when the server stopped: %s", job.prompt_id,
                        done[-1][1])
        return done

    # -- reads ----------------------------------------------------------------------------
    def _job(self, row: tuple) -> Job:
        return Job(row[0], row[1], json.loads(row[2]), json.loads(row[3]), json.loads(row[4]),
                   self._secrets.get(row[0], {}))

    def _count(self, state: str) -> int:
        return self._db.execute("SELECT COUNT(*) FROM jobs WHERE state=?", (state,)).fetchone()[0]

    def remaining(self) -> int:
        """Pending + running, the `queue_remaining` of status messages."""
        with self._lock:
            return self._count("pending") + self._count("running")

    def queue(self) -> tuple[list[list], list[list]]:
        """(running items, pending items in run order) as COMPAT 1.4 queue items."""
        with self._lock:
            rows = self._db.execute(f"SELECT {_JOB_COLS}, state FROM jobs WHERE state IN "
                                    "('pending', 'running') ORDER BY number, seq").fetchall()
        running = [self._job(r[:5]).queue_item() for r in rows if r[5] == "running"]
        pending = [self._job(r[:5]).queue_item() for r in rows if r[5] == "pending"]
        return running, pending

    def state_of(self, prompt_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT state FROM jobs WHERE prompt_id=?",
                                   (prompt_id,)).fetchone()
        return row[0] if row else None

    def delete_pending(self, prompt_ids: Iterable[str]) -> int:
        ids = list(prompt_ids)
        with self._lock, self._writing():
            cur = self._db.executemany(
                "DELETE FROM jobs WHERE prompt_id=? AND state='pending'", [(i,) for i in ids])
            for i in ids:
                self._secrets.pop(i, None)
            return cur.rowcount

    def clear_pending(self) -> int:
        with self._lock, self._writing():
            return self._db.execute("DELETE FROM jobs WHERE state='pending'").rowcount

    def delete_history(self, prompt_ids: Iterable[str]) -> int:
        with self._lock, self._writing():
            return self._db.executemany("DELETE FROM jobs WHERE prompt_id=? AND state='done'",
                                        [(i,) for i in prompt_ids]).rowcount

    def clear_history(self) -> int:
        with self._lock, self._writing():
            return self._db.execute("DELETE FROM jobs WHERE state='done'").rowcount

    def history(self, max_items: int | None = None, offset: int = -1,
                view: HistoryView | None = None) -> dict[str, dict]:
        """Records oldest first with ComfyUI's max_items/offset semantics (COMPAT 1.4);
        `view` leaves large parts out."""
        with self._lock:
            total = self._count("done")
            if offset < 0 and max_items is not None:
                offset = total - max_items
            offset = max(offset, 0)
            limit = -1 if max_items is None else max(max_items, 0)
            rows = self._db.execute(
                f"SELECT {_JOB_COLS}, result FROM jobs WHERE history_seq IS NOT NULL "
                "ORDER BY history_seq LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return {r[0]: self._record(r, view) for r in rows}

    def history_item(self, prompt_id: str, view: HistoryView | None = None) -> dict | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_JOB_COLS}, result FROM jobs WHERE state='done' "
                                   "AND prompt_id=?", (prompt_id,)).fetchone()
        return self._record(row, view) if row else None

    def _record(self, row: tuple, view: HistoryView | None = None) -> dict:
        result: dict[str, Any] = json.loads(row[5])
        if view is None:
            return history_record(self._job(row[:5]), result["outputs"], result["status"],
                                  result["meta"])
        omitted: list[str] = []

        def part(name: str, text: str) -> Any:
            if view.drops(name, len(text)):
                omitted.append(name)
                return {}
            return json.loads(text)

        prompt, extra = part("prompt", row[2]), part("extra_data", row[3])
        if "workflow" in view.omit:
            extra, had = without_workflow(extra)
            omitted += ["workflow"] if had else []
        outputs = {} if "outputs" in view.omit else result["outputs"]
        omitted += ["outputs"] if "outputs" in view.omit else []
        job = Job(row[0], row[1], prompt, extra, json.loads(row[4]))
        record = history_record(job, outputs, result["status"], result["meta"])
        return {**record, "omitted": omitted} if omitted else record

    def raw_rows(self, where: str, params: tuple, order: str, limit: int, offset: int
                 ) -> tuple[list[sqlite3.Row], int]:
        """Rows for the jobs API (comfy_core.jobs.queries builds `where` and `order`)."""
        cols = (f"{_JOB_COLS}, state, create_time, workflow_id, result, job_status, "
                "exec_start, exec_end")
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM jobs WHERE {where}",
                                     params).fetchone()[0]
            rows = self._db.execute(f"SELECT {cols} FROM jobs WHERE {where} ORDER BY {order} "
                                    "LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
        return rows, total


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Columns added after a database file was created (an older server's file opens)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(jobs)")}
    if "attempts" not in have:
        db.execute("ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
