"""A full disk under the job database: 503 on submit, the worker and its heartbeat live on,
and a job that finished meanwhile is recorded once space returns.

The disk is a real small tmpfs (mounting needs root with CAP_SYS_ADMIN; elsewhere those
tests skip). The submit check also runs everywhere on SQLite's own page limit, which fails
writes with the same SQLITE_FULL error a full disk gives."""

import asyncio
import errno
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import make_services, show_prompt, wait_done

from comfy_core.api import create_app
from comfy_core.jobs.worker import Heartbeat


class SmallDisk:
    """A 4 MiB tmpfs; `fill` takes every free byte, `free` gives them back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler.bin"

    def fill(self) -> None:
        with open(self.filler, "ab", buffering=0) as f:
            block = b"\0" * 4096
            try:
                while True:
                    f.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

    def free(self) -> None:
        self.filler.unlink()


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield SmallDisk(mount)
    subprocess.run(["umount", "-l", str(mount)], check=False)


async def until(condition, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def slow_prompt(steps: int) -> dict:
    return {"1": {"class_type": "ApiSlow", "inputs": {"steps": steps, "delay": 0.05}}}


async def test_full_disk_submit_finish_and_recovery(aiohttp_client, tmp_path, small_disk):
    services = make_services(tmp_path, ["--database", str(small_disk.path / "jobs.sqlite3")])
    client = await aiohttp_client(create_app(services))
    ws = await client.ws_connect("/ws?clientId=disk")
    await ws.receive_json()
    # 3 s of work: it must still run when the disk fills up below, however busy the machine
    pid = (await (await client.post("/prompt", json={"prompt": slow_prompt(60),
                                                     "client_id": "disk"})).json())["prompt_id"]

    async def running():
        return services.store.state_of(pid) == "running"
    await until(running)
    small_disk.fill()
    resp = await client.post("/prompt", json={"prompt": show_prompt(),
                                              "extra_data": {"pad": "x" * 200000}})
    assert resp.status == 503
    body = await resp.json()
    assert body["error"]["type"] == "storage_unavailable" and body["node_errors"] == {}
    assert "jobs.sqlite3" in body["error"]["message"] and resp.headers["Retry-After"]
    while (msg := await ws.receive_json(timeout=30))["type"] != "execution_success":
        pass
    # finished while the disk is full: not recorded yet, and not lost
    assert await (await client.get(f"/history/{pid}")).json() == {}
    assert services.store.state_of(pid) == "running"
    small_disk.free()
    record = await wait_done(client, pid, timeout=30)
    assert record["status"]["status_str"] == "success"
    # the worker is alive: a new job runs
    again = await (await client.post("/prompt", json={"prompt": show_prompt(3)})).json()
    assert (await wait_done(client, again["prompt_id"]))["outputs"] == {"2": {"values": [3]}}
    await ws.close()


def test_heartbeat_survives_a_full_disk(tmp_path, small_disk):
    from comfy_core.jobs import JobStore

    store = JobStore(small_disk.path / "jobs.sqlite3")
    store.submit("p", show_prompt(), {}, ["2"])
    store.claim("w", lease_s=60)
    lease = store._db.execute("SELECT lease_expires FROM jobs").fetchone()[0]
    small_disk.fill()
    failures = threading.Event()
    beat = Heartbeat(store, "w", "p", interval=0.01, on_error=lambda exc: failures.set())
    beat.start()
    try:
        assert failures.wait(10)  # its writes fail ...
        assert beat.alive  # ... and it keeps beating
        small_disk.free()
        deadline = __import__("time").monotonic() + 10
        while store._db.execute("SELECT lease_expires FROM jobs").fetchone()[0] == lease:
            assert __import__("time").monotonic() < deadline
    finally:
        beat.stop()
        store.close()


async def test_submit_is_503_when_sqlite_reports_full(client, services):
    """Same SQLITE_FULL path without a mount: SQLite's page limit on this connection."""
    pages = services.store._db.execute("PRAGMA page_count").fetchone()[0]
    services.store._db.execute(f"PRAGMA max_page_count={pages}")
    resp = await client.post("/prompt", json={"prompt": show_prompt(),
                                              "extra_data": {"pad": "x" * 100000}})
    assert resp.status == 503
    assert (await resp.json())["error"]["type"] == "storage_unavailable"
    services.store._db.execute("PRAGMA max_page_count=1073741823")
    assert (await client.post("/prompt", json={"prompt": show_prompt()})).status == 200


async def test_full_disk_under_user_files_and_uploads_is_503(aiohttp_client, tmp_path, small_disk):
    """Uploads, user files and settings on a full disk: 503 storage_unavailable naming
    the file (not a 500 or a 400 blaming the request); they work again once space returns."""
    from test_api_files import form, png_bytes

    services = make_services(tmp_path, ["--user-directory", str(small_disk.path / "user"),
                                        "--input-directory", str(small_disk.path / "input")])
    client = await aiohttp_client(create_app(services))
    (small_disk.path / "input").mkdir(exist_ok=True)
    small_disk.fill()
    writes = [("POST", "/userdata/workflows%2Fa.json", {"data": b"{\"x\": 1}" * 4096}),
              ("POST", "/settings", {"json": {"Comfy.X": "y" * 20000}}),
              ("POST", "/upload/image", {"data": lambda: form("big.png", png_bytes((300, 300)))})]
    for method, path, kw in writes:
        kw = {k: v() if callable(v) else v for k, v in kw.items()}
        resp = await client.request(method, path, **kw)
        assert resp.status == 503, (path, await resp.text())
        error = (await resp.json())["error"]
        assert error["type"] == "storage_unavailable" and str(small_disk.path) in error["message"]
        assert resp.headers["Retry-After"]
    small_disk.free()
    for method, path, kw in writes:
        kw = {k: v() if callable(v) else v for k, v in kw.items()}
        assert (await client.request(method, path, **kw)).status == 200, path
