"""The server SIGKILLed while its workers run jobs: after a restart every accepted job is
known and finishes exactly once (the jobs that were running re-run once, the queued ones
run), and the killed server's local Ray cluster does not outlive it."""

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from cluster_harness import RAY_FLAGS, free_port, make_base, slow_prompt

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[2]
JOBS = 4
AGENTS = ("DashboardAgent", "RuntimeEnvAgent")


class Server:
    """server.py --ray local with two workers, as a subprocess."""

    def __init__(self, base: Path, name: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = open(base / f"{name}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--base-directory", str(base),
             "--port", self.url.rsplit(":", 1)[1], "--ray", "local", "--ray-workers", "2",
             *RAY_FLAGS], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path: str, timeout: float = 300.0) -> dict:
        """GET `path` once the server answers (it waits for its workers first)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, Path(self.log.name).read_text()[-3000:]
            try:
                with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                    return json.load(resp)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def post(self, path: str, body: dict) -> dict:
        req = urllib.request.Request(self.url + path, json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"POST {path}: {exc.code} {exc.read()[:2000]!r}") from exc

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)
        self.log.close()


def two_running(server: Server) -> list[str] | None:
    """The ids of the running jobs when there are two (from one /queue answer)."""
    running = [item[1] for item in server.get("/queue")["queue_running"]]
    return running if len(running) == 2 else None


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_with_workers_running_then_restart(tmp_path):
    base = make_base(tmp_path / "base", {})
    journal = tmp_path / "journal.txt"
    first = Server(base, "first")
    try:
        first.get("/queue")
        # Each job runs 6 s: the two running ones must still run when the server is killed,
        # however long a busy machine takes to see them start.
        ids = [first.post("/prompt", {"prompt": slow_prompt(120, 0.05, f"job{i}",
                                                             str(journal))})["prompt_id"]
               for i in range(JOBS)]
        running = wait_for(lambda: two_running(first), 60, "two running jobs")
        wait_for(lambda: journal.is_file() and journal.read_text().count("start") == 2, 60,
                 "both running jobs to start on their workers")
        family = psutil.Process(first.proc.pid).children(recursive=True)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
    finally:
        first.stop()
    # Ray's two agents notice their raylet is gone only after about a minute: they run no
    # jobs, so they are not waited for (ended here to keep the machine clean).
    core = [p for p in family if not p.name().endswith(AGENTS)]
    _, alive = psutil.wait_procs(core, timeout=30)
    for proc in [*alive, *(p for p in family if p not in core)]:
        if proc.is_running():
            proc.kill()
    assert not alive, f"the killed server's Ray processes outlived it: {alive}"

    second = Server(base, "second")
    try:
        records = {pid: wait_for(lambda pid=pid: second.get(f"/history/{pid}").get(pid), 180,
                                 f"job {pid}") for pid in ids}
    finally:
        second.stop()
    assert {r["status"]["status_str"] for r in records.values()} == {"success"}
    lines = journal.read_text().splitlines()
    for i in range(JOBS):  # each job finished exactly once
        assert lines.count(f"end job{i}") == 1, lines
    restarted = {f"job{ids.index(pid)}" for pid in running}
    assert sorted(line for line in lines if line.startswith("start")) == sorted(
        [f"start job{i}" for i in range(JOBS)] + [f"start {t}" for t in restarted])
    db = sqlite3.connect(base / "user" / "jobs.sqlite3")
    attempts = dict(db.execute("SELECT prompt_id, attempts FROM jobs").fetchall())
    db.close()
    assert attempts == {pid: 2 if pid in running else 1 for pid in ids}
