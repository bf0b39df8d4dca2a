"""Start the real server.py as a subprocess on a free port (helpers for the e2e tests)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
# Debian's Chromium, as the browser tests launch it (headless, no GPU, no network chatter).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
# server.py flags that serve this project's own editor instead of ComfyUI's frontend.
OWN_EDITOR = ("--front-end-root", "web")

SLOW_NODE = '''
import time
from comfy_core.runtime import job


class E2ESlow:
    CATEGORY = "test"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 10, "min": 1, "max": 100000})}}

    def run(self, steps):
        for i in range(steps):
            time.sleep(0.05)  # the node's work: a job that runs long enough to watch and interrupt
            job().progress(i + 1, steps)
        return {"ui": {"steps": [steps]}}


NODE_CLASS_MAPPINGS = {"E2ESlow": E2ESlow}
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_base(base: Path) -> Path:
    (base / "custom_nodes").mkdir(parents=True, exist_ok=True)
    (base / "custom_nodes" / "e2e_slow.py").write_text(SLOW_NODE)
    return base


class ServerProcess:
    """server.py with `base` as its base directory; `url` once it answers."""

    def __init__(self, base: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(base / f"server-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--base-directory", str(base),
             "--port", str(self.port), *extra],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: "
                                   f"{Path(self.log.name).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/system_stats", timeout=1):
                    return
            except urllib.error.HTTPError:  # answering (e.g. 401 without the token)
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not answer in time")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


async def next_json(ws, timeout: float = 120.0, binary: list[bytes] | None = None) -> dict:
    """The next JSON websocket message; binary preview frames before it are skipped (or
    collected into `binary`)."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), timeout)
        if msg.type == aiohttp.WSMsgType.TEXT:
            return json.loads(msg.data)
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise AssertionError(f"websocket ended: {msg.type} {msg.data!r}")
        if binary is not None:
            binary.append(msg.data)
