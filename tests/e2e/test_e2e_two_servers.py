"""Two servers on one user folder: the second refuses to start and names the first; once
the first is gone (even by SIGKILL) a new one starts and settles the first one's jobs."""

import json
import subprocess
import sys
import time
import urllib.request

from e2e_server import ROOT, ServerProcess, free_port, prepare_base


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def test_second_server_refused_then_starts_after_the_first_dies(tmp_path):
    base = prepare_base(tmp_path)
    first = ServerProcess(base)
    try:
        pid = post(first.url + "/prompt", {"prompt": {"1": {"class_type": "E2ESlow",
                                                            "inputs": {"steps": 2000}}}})[
            "prompt_id"]
        deadline = time.monotonic() + 30
        while [i[1] for i in get(first.url + "/queue")["queue_running"]] != [pid]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = subprocess.run(
            [sys.executable, str(ROOT / "server.py"), "--base-directory", str(base), "--port",
             str(free_port()), "--requeue-running"],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert f"pid {first.proc.pid}" in second.stderr and "jobs.sqlite3" in second.stderr
        assert "Traceback" not in second.stderr
        # the first server is untouched and still runs its job
        running = get(first.url + "/queue")["queue_running"]
        assert [item[1] for item in running] == [pid]
    finally:
        first.kill()
    third = ServerProcess(base)
    try:
        record = get(f"{third.url}/history/{pid}")[pid]
        assert record["status"]["status_str"] == "error"  # recorded as stopped, once
        assert record["status"]["messages"][-1][1]["exception_type"] == "ServerStopped"
    finally:
        third.stop()


