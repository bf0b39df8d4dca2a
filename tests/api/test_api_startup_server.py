"""The real server.py: `/` answers while a slow custom node is still importing."""

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A plugin whose import blocks until the test creates the flag file next to it.
GATED_NODE = '''
import pathlib, time

_FLAG = pathlib.Path(__file__).with_name("release.flag")
for _ in range(1200):
    if _FLAG.exists():
        break
    time.sleep(0.05)


class GatedConst:
    CATEGORY = "test"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def run(self):
        return (1,)


NODE_CLASS_MAPPINGS = {"GatedConst": GatedConst}
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 60.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Until `url` answers; a refused connection returns at once, so the limit is a time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            _get(url, timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} never answered: {log.read_text()[-2000:]}")


def test_server_answers_editor_while_custom_nodes_load(tmp_path):
    plugins = tmp_path / "custom_nodes"
    plugins.mkdir()
    (plugins / "gated.py").write_text(GATED_NODE)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--base-directory",
                                 str(tmp_path), "--port", str(port), "--cpu"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_http(url + "/", proc, log)
        assert _get(url + "/features")[0] == 200
        answers: list = []
        waiter = threading.Thread(target=lambda: answers.append(_get(url + "/object_info")))
        waiter.start()
        waiter.join(0.5)
        assert not answers and proc.poll() is None  # held while the plugin imports
        (plugins / "release.flag").write_text("go")
        waiter.join(60)
        status, body = answers[0]
        assert status == 200 and "GatedConst" in json.loads(body)
        assert "KSampler" in json.loads(body)
        assert "nodes ready in" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(30)
