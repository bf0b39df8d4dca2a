"""A damaged job database is refused at start with a message naming the file and how to
recover; moving it aside gives an empty store. Records are never dropped silently."""

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from comfy_core.jobs import JobStore
from comfy_core.jobs.integrity import DamagedStoreError

ROOT = Path(__file__).resolve().parents[2]
PROMPT = {"1": {"class_type": "X", "inputs": {}}}
# Submits jobs, then dies without closing: the records sit in the WAL file.
WRITER = """
import os, signal, sys
from comfy_core.jobs import JobStore
store = JobStore(sys.argv[1])
for i in range(int(sys.argv[2])):
    store.submit(f"p{i}", {"1": {"class_type": "X", "inputs": {"pad": "x" * 3000}}}, {}, ["1"])
os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_writer(path: Path, jobs: int) -> None:
    proc = subprocess.run([sys.executable, "-c", WRITER, str(path), str(jobs)], cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def db(tmp_path):
    return tmp_path / "user" / "jobs.sqlite3"


def test_wal_left_by_a_crash_is_replayed(db):
    killed_writer(db, 5)
    assert Path(f"{db}-wal").stat().st_size > 0
    store = JobStore(db)
    assert store.remaining() == 5
    store.close()


def damage_truncate_db(db: Path) -> None:
    store = JobStore(db)
    for i in range(40):
        store.submit(f"p{i}", {**PROMPT, "pad": "y" * 3000}, {}, ["1"])
    store.close()  # checkpointed into the main file
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.truncate(size // 2)


def damage_cut_on_a_page_boundary(db: Path) -> None:
    """A checkpointed file cut to its first page: SQLite reads a short, empty-looking
    database (no quick_check complaint) and the server would start empty."""
    damage_truncate_db(db)
    with open(db, "r+b") as f:
        f.truncate(4096)


def damage_cut_inside_a_page(db: Path) -> None:
    """The only page of a file whose records were still in the WAL, cut mid-page, the WAL
    gone (SQLite opens it as an empty database)."""
    killed_writer(db, 3)
    for path in db.parent.glob("jobs.sqlite3-*"):
        path.unlink()
    with open(db, "r+b") as f:
        f.truncate(2100)


def damage_cut_inside_the_header(db: Path) -> None:
    damage_truncate_db(db)
    with open(db, "r+b") as f:
        f.truncate(60)


def damage_truncate_wal(db: Path) -> None:
    killed_writer(db, 20)
    wal = Path(f"{db}-wal")
    with open(wal, "r+b") as f:
        f.truncate(wal.stat().st_size // 2 + 1000)


def damage_wal_header(db: Path) -> None:
    killed_writer(db, 3)
    with open(f"{db}-wal", "r+b") as f:
        f.truncate(20)


def damage_random_bytes(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(os.urandom(50000))


def damage_random_pages(db: Path) -> None:
    damage_truncate_db(db)  # builds a real file, then:
    store_bytes = bytearray(db.read_bytes())
    store_bytes[4096 * 2: 4096 * 3] = os.urandom(4096)
    db.write_bytes(bytes(store_bytes))


DAMAGES = [damage_truncate_db, damage_cut_on_a_page_boundary, damage_cut_inside_a_page,
           damage_cut_inside_the_header, damage_truncate_wal, damage_wal_header,
           damage_random_bytes, damage_random_pages]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__[7:])
def test_damaged_store_is_refused_naming_the_file(db, damage):
    damage(db)
    with pytest.raises(DamagedStoreError) as err:
        JobStore(db)
    message = str(err.value)
    assert str(db) in message and "move" in message.lower()
    assert err.value.path == str(db)


def test_empty_file_and_a_crash_mid_checkpoint_are_not_damage(db):
    """A zero-length file (created, never written) opens as a new store; a main file
    shorter than its header says is fine while the WAL that completes it is there."""
    db.parent.mkdir(parents=True)
    db.write_bytes(b"")
    JobStore(db).close()
    db.unlink()
    killed_writer(db, 30)
    header = bytearray(db.read_bytes()[:4096])
    header[28:32] = (50).to_bytes(4, "big")  # the header of a checkpoint that was cut off
    header[92:96] = header[24:28]
    db.write_bytes(bytes(header))
    store = JobStore(db)
    assert store.remaining() == 30
    store.close()


@pytest.mark.parametrize("damage", [damage_truncate_wal, damage_random_bytes,
                                    damage_cut_inside_a_page],
                         ids=["truncate_wal", "random_bytes", "cut_inside_a_page"])
def test_real_server_refuses_then_starts_empty_once_moved_aside(tmp_path, damage):
    db = tmp_path / "user" / "jobs.sqlite3"
    damage(db)
    def store_files() -> dict:  # the lock file beside them only says who last held it
        return {p.name: p.read_bytes() for p in db.parent.iterdir() if p.suffix != ".lock"}

    before = store_files()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.run([sys.executable, str(ROOT / "server.py"), "--base-directory",
                           str(tmp_path), "--port", str(port)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert str(db) in proc.stderr and "Traceback" not in proc.stderr
    assert "move" in proc.stderr.lower()
    # nothing was changed by the refusal
    assert store_files() == before
    aside = tmp_path / "aside"
    aside.mkdir()
    for p in db.parent.glob("jobs.sqlite3*"):
        shutil.move(p, aside / p.name)
    store = JobStore(db)
    assert store.remaining() == 0 and store.history() == {}
    store.close()
