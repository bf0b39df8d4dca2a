"""One server per job database: the store is locked while open; the lock names its holder
and disappears with the process, however it ends."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from comfy_core.jobs import JobStore
from comfy_core.jobs.lock import StoreLockedError

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import os, signal, sys, time
from comfy_core.jobs import JobStore
store = JobStore(sys.argv[1], owner="holder test")
print("locked", flush=True)
time.sleep(60)  # hold the lock until the test kills this process
"""


def test_second_store_on_the_same_file_is_refused_naming_the_holder(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    first = JobStore(db, owner="http://127.0.0.1:8188")
    try:
        with pytest.raises(StoreLockedError) as err:
            JobStore(db)
        message = str(err.value)
        assert str(db) in message and f"pid {os.getpid()}" in message
        assert "http://127.0.0.1:8188" in message
    finally:
        first.close()
    JobStore(db).close()  # released by close()


def test_lock_dies_with_a_killed_holder(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError, match=f"pid {proc.pid}"):
            JobStore(db)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    store = JobStore(db)  # no stale lock after SIGKILL
    store.close()
