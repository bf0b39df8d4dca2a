"""Cluster throughput and dispatch overhead (not a test): the real server.py, once in
process (no --ray) and with --ray local and 1, 2, 4 worker actors, on a free port.

It measures
  * dispatch overhead: end-to-end latency of a model-free job submitted alone (POST
    /prompt until the websocket's final `executing`), alternately on an in-process server
    and a one-worker cluster running side by side (both see the same machine load, and
    both run torch with one thread, as Ray gives the worker); the overhead is the median
    of the paired differences;
  * throughput: N jobs queued at once until the last finishes, for model-free jobs
    (EmptyImage -> SaveImage) and tiny-model jobs (the demo checkpoint, 64x64, 4 steps;
    --size and --steps make them heavier, so that the server's share per job shrinks),
    the in-process server again with torch on one thread;
    scaling efficiency = jobs/s with N workers / (N x jobs/s with one worker). The
    clusters run with --ray-locality-wait 0, so that the warm-up's burst spreads and every
    worker holds the model when the measure starts (steady state, not the first burst).

    .venv/bin/python bench/cluster_bench.py [--workers 1,2,4] [--jobs 24] [--latency 30]
        [--latency-only] [--size 64] [--steps 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "models" / "checkpoints" / "demo" / "shapes-sd1-tiny.safetensors"
CKPT = "demo/shapes-sd1-tiny.safetensors"


def free_job(i: int) -> dict:
    """Model-free: an 8x8 image whose colour changes per job (nothing cached), saved."""
    return {"1": {"class_type": "EmptyImage",
                  "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": i % 0xFFFFFF}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0],
                                                        "filename_prefix": "bench_free"}}}


def tiny_job(i: int, size: int = 64, steps: int = 4) -> dict:
    """The demo model (64x64, 4 euler steps unless told), a new seed per job."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size,
                                                           "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red circle",
                                                         "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": i, "steps": steps, "cfg": 6.0, "sampler_name": "euler", "scheduler": "normal",
            "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
            "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0],
                                                    "filename_prefix": "bench_tiny"}}}


class Server:
    def __init__(self, base: Path, workers: int | None, env: dict | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        flags = [] if workers is None else [
            "--ray", "local", "--ray-workers", str(workers), "--ray-worker-cpus",
            f"{min(1.0, (os.cpu_count() or 2) / workers):g}", "--ray-object-store-mb", "200",
            "--ray-locality-wait", "0"]  # the warm-up loads the model on every worker
        self.log = open(base / f"server-{workers}.log", "wb")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"),
                                      "--base-directory", str(base), "--port", str(port),
                                      "--preview-method", "none", *flags],
                                     cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        deadline = time.monotonic() + 600
        while True:  # /queue answers once the nodes and workers are ready
            if self.proc.poll() is not None:
                raise RuntimeError(Path(self.log.name).read_text()[-3000:])
            try:
                urllib.request.urlopen(self.url + "/queue", timeout=600).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()


class Client:
    """One websocket and session; `run` submits jobs and waits for all of them."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def __aenter__(self) -> "Client":
        self.http = aiohttp.ClientSession(self.url)
        self.ws = await self.http.ws_connect("/ws?clientId=bench")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()
        await self.http.close()

    async def run(self, prompts: list[dict]) -> float:
        """Seconds from the first POST until every job's final `executing` arrived."""
        start = time.perf_counter()
        left = set()
        for prompt in prompts:
            resp = await self.http.post("/prompt", json={"prompt": prompt, "client_id": "bench"})
            body = await resp.json()
            assert resp.status == 200, body
            left.add(body["prompt_id"])
        while left:
            msg = await asyncio.wait_for(self.ws.receive(), 600)
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data["type"] == "execution_error":
                raise RuntimeError(data)
            if data["type"] == "executing" and data["data"].get("node") is None:
                left.discard(data["data"].get("prompt_id"))
        return time.perf_counter() - start


async def warm_up(client: Client, offset: int) -> None:
    for i in range(4):  # every worker imports its nodes and loads the model once
        await client.run([free_job(offset + i), tiny_job(offset + i, steps=1)] * 2)


async def measure(url: str, jobs: int, offset: int, size: int, steps: int) -> dict:
    async with Client(url) as client:
        await warm_up(client, offset)
        free_s = await client.run([free_job(offset + 1000 + i) for i in range(jobs)])
        tiny_s = await client.run([tiny_job(offset + 1000 + i, size, steps)
                                   for i in range(jobs)])
    return {"free_jobs_s": jobs / free_s, "tiny_jobs_s": jobs / tiny_s}


async def paired_latency(single_url: str, cluster_url: str, count: int) -> dict:
    """Model-free jobs alternately on the in-process server and the one-worker cluster,
    so that both see the same machine load; the overhead is the median difference."""
    for url, offset in ((single_url, 50_000), (cluster_url, 60_000)):
        async with Client(url) as client:  # one at a time: an idle websocket that does
            await warm_up(client, offset)  # not answer the server's pings gets closed
    async with Client(single_url) as single, Client(cluster_url) as cluster:
        pairs = []
        for i in range(count):
            a = await single.run([free_job(70_000 + i)]) * 1000
            b = await cluster.run([free_job(80_000 + i)]) * 1000
            pairs.append((a, b))
    return {"single_ms": statistics.median(a for a, _ in pairs),
            "cluster_ms": statistics.median(b for _, b in pairs),
            "overhead_ms": statistics.median(b - a for a, b in pairs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--latency", type=int, default=30)
    parser.add_argument("--latency-only", action="store_true",
                        help="measure the dispatch overhead only (no throughput runs)")
    parser.add_argument("--size", type=int, default=64, help="model jobs' image side")
    parser.add_argument("--steps", type=int, default=4, help="model jobs' sampling steps")
    args = parser.parse_args()
    configs: list[int | None] = [None] + [int(n) for n in args.workers.split(",")]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        bases = []
        for name in ("single", "cluster"):  # two servers may run at once: two bases
            base = Path(tmp) / name
            (base / "models" / "checkpoints" / "demo").mkdir(parents=True)
            shutil.copyfile(DEMO, base / "models" / "checkpoints" / CKPT)
            bases.append(base)
        # Ray starts a worker with OMP_NUM_THREADS set to its CPU share (1 here); the
        # in-process server gets the same (in both measures), or its torch threads spin
        # against the load and the difference would not be the cluster's alone
        threads = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        single, one = Server(bases[0], None, threads), Server(bases[1], 1)
        try:
            latency = asyncio.run(paired_latency(single.url, one.url, args.latency))
        finally:
            single.stop()
            one.stop()
        print(f"latency: {latency}", file=sys.stderr, flush=True)
        for n, workers in enumerate([] if args.latency_only else configs):
            server = Server(bases[1], workers, threads if workers is None else None)
            try:
                name = "in-process" if workers is None else f"ray x{workers}"
                results[name] = asyncio.run(measure(server.url, args.jobs, n * 10_000,
                                                    args.size, args.steps))
            finally:
                server.stop()
            print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    report(latency, results, args)


def report(latency: dict, results: dict[str, dict], args: argparse.Namespace) -> None:
    one = results.get("ray x1")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"\nModel-free job alone, end to end (POST to final websocket message), median of "
          f"{args.latency} alternating pairs:\n")
    print("| In-process | --ray local, 1 worker | Dispatch overhead (median of differences) |")
    print("|---|---|---|")
    print(f"| {latency['single_ms']:.1f} ms | {latency['cluster_ms']:.1f} ms "
          f"| {latency['overhead_ms']:+.1f} ms |")
    if not results:
        return
    print(f"\nThroughput, {args.jobs} jobs queued at once (model jobs {args.size}x{args.size}, "
          f"{args.steps} steps):\n")
    print("| Setup | Model-free jobs/s | Model jobs/s | Scaling efficiency (model) |")
    print("|---|---|---|---|")
    for name, r in results.items():
        workers = int(name.split("x")[1]) if "x" in name else None
        scaling = (f"{r['tiny_jobs_s'] / (workers * one['tiny_jobs_s']):.2f}"
                   if workers and one else "")
        print(f"| {name} | {r['free_jobs_s']:.1f} | {r['tiny_jobs_s']:.2f} | {scaling} |")


if __name__ == "__main__":
    main()
