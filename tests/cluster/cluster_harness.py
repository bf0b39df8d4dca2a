"""A real server app with --ray, in this process (so tests reach its workers), on a free
port of 127.0.0.1, plus the test base folder and prompt builders the cluster tests share.

Ray is kept small: fractional-CPU workers, a 100 MB object store, no dashboard, usage
statistics off, loopback only (see comfy_core.cluster.connect)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from comfy_core.api import create_app
from comfy_core.services import Startup, build_base_services
from comfy_core.settings import parse_settings

# Before ray is imported: every node these tests start announces 127.0.0.1, not the
# machine's network address (comfy_core.cluster.connect sets the same for --ray local).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "models" / "checkpoints" / "demo" / "shapes-sd1-tiny.safetensors"
CKPT_A = "demo/shapes-sd1-tiny.safetensors"
CKPT_B = "copy/shapes-b.safetensors"
RAY_FLAGS = ["--ray-worker-cpus", "0.5", "--ray-object-store-mb", "100"]

TEST_NODES = '''
import os
import time
from comfy_core.runtime import job


class ClusterSlow:
    """`steps` progress steps `delay` s apart; its ui output names the worker's pid."""
    CATEGORY = "test"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 10, "min": 1, "max": 100000}),
                             "delay": ("FLOAT", {"default": 0.05, "min": 0, "max": 10}),
                             "tag": ("STRING", {"default": ""})},
                "optional": {"journal": ("STRING", {"default": ""})}}

    def run(self, steps, delay, tag, journal=""):
        from server import PromptServer  # as packs do: ComfyUI's plugin-facing server
        note(journal, "start " + tag)
        server = PromptServer.instance
        server.send_sync("cluster_test.started", {"tag": tag, "prompt_id": job().prompt_id},
                         server.client_id)
        for i in range(steps):
            time.sleep(delay)
            job().progress(i + 1, steps)
        note(journal, "end " + tag)
        return {"ui": {"pid": [os.getpid()], "tag": [tag]}}


def note(journal, line):
    """Append `line` to the file `journal` (how a test counts runs across processes)."""
    if journal:
        with open(journal, "a") as f:
            f.write(line + "\\n")


NODE_CLASS_MAPPINGS = {"ClusterSlow": ClusterSlow}
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_base(base: Path, checkpoints: dict[str, Path | bytes] | None = None) -> Path:
    """A base folder with the test nodes and `checkpoints` (name -> source file or bytes;
    default: the demo checkpoint under CKPT_A)."""
    (base / "custom_nodes").mkdir(parents=True, exist_ok=True)
    (base / "custom_nodes" / "cluster_test_nodes.py").write_text(TEST_NODES)
    for name, source in (checkpoints or {CKPT_A: DEMO}).items():
        target = base / "models" / "checkpoints" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            target.write_bytes(source)
        else:
            shutil.copyfile(source, target)
    return base


def demo_prompt(ckpt: str = CKPT_A, seed: int = 0, prefix: str = "cluster") -> dict:
    """txt2img on a demo-model checkpoint at 64x64 with 2 steps."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "5": {"class_type": "EmptyLatentImage",
              "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red circle", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": 2, "cfg": 6.0, "sampler_name": "euler", "scheduler": "normal",
            "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
            "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": prefix, "images": ["8", 0]}},
    }


def slow_prompt(steps: int, delay: float = 0.05, tag: str = "", journal: str = "") -> dict:
    return {"1": {"class_type": "ClusterSlow",
                  "inputs": {"steps": steps, "delay": delay, "tag": tag, "journal": journal}}}


class ClusterServer:
    """create_app over a started Cluster, served from a thread with its own event loop."""

    def __init__(self, base: Path, *flags: str) -> None:
        from comfy_core.cluster import Cluster

        # Bound before Ray starts: Ray's own processes take free ports too, and one could
        # take a port that was only picked, not held.
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = parse_settings(["--base-directory", str(base), "--port", str(self.port),
                                        *flags], {})
        self.cluster = Cluster.start(self.settings)
        self.base_services = build_base_services(self.settings)
        self.app = create_app(Startup.begin(self.base_services, self.cluster.build_services))
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.app, handle_signals=False)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self._serve())

    def _call(self, coro, timeout: float = 600.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _serve(self) -> None:
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    def wait_ready(self, timeout: float = 600.0) -> None:
        self.app_state().startup.result(timeout)

    def app_state(self):
        from comfy_core.api.keys import STATE
        return self.app[STATE]

    def dispatcher(self):
        from comfy_core.api.keys import WORKER
        return self.app[WORKER].worker

    def close(self) -> None:
        try:
            self._call(self._runner.cleanup(), timeout=60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self.cluster.shutdown()
            self.base_services.store.close()


async def submit(http: aiohttp.ClientSession, prompt: dict, client_id: str = "tests",
                 extra_data: dict | None = None) -> str:
    resp = await http.post("/prompt", json={"prompt": prompt, "client_id": client_id,
                                            "extra_data": extra_data or {}})
    body = await resp.json()
    assert resp.status == 200, body
    return body["prompt_id"]


async def wait_done(http: aiohttp.ClientSession, prompt_id: str, timeout: float = 180.0) -> dict:
    """The history record once the job is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = (await (await http.get(f"/history/{prompt_id}")).json()).get(prompt_id)
        if record is not None:
            return record
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {prompt_id} did not finish in {timeout} s")


async def wait_running(http: aiohttp.ClientSession, count: int, timeout: float = 60.0) -> list:
    """The ids of the running jobs once `count` of them run at the same time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = (await (await http.get("/queue")).json())["queue_running"]
        if len(running) >= count:
            return [item[1] for item in running]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} jobs never ran at once")


async def wait_workers(server: ClusterServer, count: int, timeout: float = 300.0) -> list:
    """The ready workers once there are `count` (replacements come up in the background; two
    starting at once on a busy 2-core machine take minutes to import their nodes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = server.cluster.pool.ready()
        if len(ready) >= count:
            return ready
        await asyncio.sleep(0.2)
    raise AssertionError(f"only {len(server.cluster.pool.ready())} of {count} workers ready")
