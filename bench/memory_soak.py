"""Memory soak: run one API prompt N times against a server and watch its memory.

Talks to the server only through the ComfyUI HTTP API (POST /prompt, GET /history/{id},
GET /system_stats), so it measures the real process a user runs. Each job changes one
input (a seed, or the default prompt's colour) so the executor cannot answer from cache.

    python bench/memory_soak.py --launch --jobs 100                 # model-free default prompt
    python bench/memory_soak.py --launch --workflow sd15_api.json -- --cpu
    python bench/memory_soak.py --launch --checkpoint sd15.safetensors --size 256 -- --cpu
    python bench/memory_soak.py --url http://127.0.0.1:8188 --pid 4242 --workflow w.json

Prints one row per job (RSS of the server process, free device memory), then the growth
between the end of warm-up and the last job, the range after warm-up, and the least-squares
slope over the last half of the jobs: one-off fills of bounded caches land in the first
half, so a leak shows as a slope that stays above zero.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import psutil

MIB = 1024**2
SEED_INPUTS = ("seed", "noise_seed")

# EmptyImage -> SaveImage: exercises executor, image conversion, PNG writing and history.
DEFAULT_PROMPT = {
    "1": {"class_type": "EmptyImage",
          "inputs": {"width": 256, "height": 256, "batch_size": 1, "color": 0}},
    "2": {"class_type": "SaveImage",
          "inputs": {"images": ["1", 0], "filename_prefix": "soak"}},
}
DEFAULT_VARY = ("1", "color")


def txt2img_prompt(checkpoint: str, size: int, steps: int) -> dict:
    """The default ComfyUI graph (load, encode twice, empty latent, KSampler, decode, save)."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox in the snow", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": 0, "steps": steps, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal",
            "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
            "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "soak"}},
    }


def http_json(url: str, body: dict | None = None, timeout: float = 30.0) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_server(base_dir: Path, extra_args: list[str]) -> tuple[subprocess.Popen, str]:
    """Start `python server.py` on a free loopback port and wait until it answers."""
    port = free_port()
    command = [sys.executable, str(Path(__file__).resolve().parents[1] / "server.py"), "--listen", "127.0.0.1", "--port", str(port),
               "--base-directory", str(base_dir), *extra_args]
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}: {command}")
        try:
            http_json(f"{url}/system_stats", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"server did not answer on {url} within 120 s")


def seed_inputs(prompt: dict) -> list[tuple[str, str]]:
    return [(node_id, name) for node_id, node in prompt.items()
            for name in node.get("inputs", {}) if name in SEED_INPUTS]


def varied(prompt: dict, targets: list[tuple[str, str]], job: int) -> dict:
    """A copy of `prompt` with every target input set to the job number."""
    out = copy.deepcopy(prompt)
    for node_id, name in targets:
        out[node_id]["inputs"][name] = job
    return out


def run_job(url: str, prompt: dict, timeout: float) -> float:
    """Queue one prompt, wait for its history record; returns wall seconds."""
    start = time.monotonic()
    reply = http_json(f"{url}/prompt", {"prompt": prompt, "client_id": uuid.uuid4().hex})
    prompt_id = reply["prompt_id"]
    while time.monotonic() - start < timeout:
        history = http_json(f"{url}/history/{prompt_id}")
        if prompt_id in history:
            status = history[prompt_id].get("status", {})
            if status.get("status_str") != "success":
                raise RuntimeError(f"prompt {prompt_id} failed: {json.dumps(status)[:2000]}")
            return time.monotonic() - start
        time.sleep(0.05)
    raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout} s")


def device_free(url: str) -> int | None:
    devices = http_json(f"{url}/system_stats").get("devices") or []
    return devices[0].get("vram_free") if devices else None


def soak(url: str, pid: int, prompt: dict, targets: list[tuple[str, str]], args) -> list[dict]:
    process = psutil.Process(pid)
    rows = []
    print(f"{'job':>5} {'seconds':>8} {'rss MiB':>9} {'device free MiB':>16}")
    for job in range(1, args.jobs + 1):
        seconds = run_job(url, varied(prompt, targets, job), args.timeout)
        time.sleep(args.pause)
        free = device_free(url)
        row = {"job": job, "seconds": seconds, "rss": process.memory_info().rss, "device_free": free}
        rows.append(row)
        free_text = "-" if free is None else f"{free / MIB:.0f}"
        print(f"{job:>5} {seconds:>8.2f} {row['rss'] / MIB:>9.1f} {free_text:>16}", flush=True)
    return rows


def slope(rows: list[dict]) -> float:
    """Least-squares RSS slope in bytes per job (0 for fewer than two rows)."""
    n = len(rows)
    if n < 2:
        return 0.0
    mean_x = sum(r["job"] for r in rows) / n
    mean_y = sum(r["rss"] for r in rows) / n
    sxx = sum((r["job"] - mean_x) ** 2 for r in rows)
    return sum((r["job"] - mean_x) * (r["rss"] - mean_y) for r in rows) / sxx


def summary(rows: list[dict], warmup: int) -> str:
    """End-to-end growth after warm-up, the range, and the slope over the last half: bounded
    caches (allocator, SQLite, Python) fill early, so a leak is a slope that stays positive."""
    base = rows[min(warmup, len(rows)) - 1]
    last = rows[-1]
    growth = (last["rss"] - base["rss"]) / base["rss"] * 100
    after = [r["rss"] for r in rows[min(warmup, len(rows)) - 1:]]
    half = rows[len(rows) // 2:]
    per_job = slope(half)
    floor = slope(window_minima(half, 10))
    return (f"RSS after job {base['job']}: {base['rss'] / MIB:.1f} MiB; after job {last['job']}: "
            f"{last['rss'] / MIB:.1f} MiB; growth {growth:+.2f}%; range after warm-up "
            f"{min(after) / MIB:.1f}-{max(after) / MIB:.1f} MiB; slope over jobs "
            f"{half[0]['job']}-{last['job']}: {per_job / 1024:+.2f} KiB/job "
            f"({per_job * 1000 / base['rss'] * 100:+.2f}% per 1000 jobs); slope of the lowest "
            f"RSS of each 10 jobs: {floor / 1024:+.2f} KiB/job")


def window_minima(rows: list[dict], size: int) -> list[dict]:
    """The lowest-RSS row of each run of `size` jobs: the floor the process returns to,
    unmoved by samples taken while freed memory was still held."""
    return [min(rows[i:i + size], key=lambda r: r["rss"]) for i in range(0, len(rows), size)]


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    server_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8188")
    where.add_argument("--launch", action="store_true", help="start a server for the run")
    p.add_argument("--pid", type=int, help="server process id (with --url)")
    p.add_argument("--workflow", type=Path, help="API-format prompt JSON (default: model-free)")
    p.add_argument("--checkpoint", type=Path, help="with --launch: txt2img on this checkpoint file")
    p.add_argument("--size", type=int, default=256, help="image size of the --checkpoint workflow")
    p.add_argument("--steps", type=int, default=4, help="steps of the --checkpoint workflow")
    p.add_argument("--vary", action="append", default=[], metavar="NODE.INPUT",
                   help="input set to the job number (default: seed inputs)")
    p.add_argument("--jobs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per job")
    p.add_argument("--pause", type=float, default=0.0,
                   help="seconds to wait after each job before reading RSS (an idle server)")
    args = p.parse_args(own)
    if args.url and args.pid is None:
        p.error("--url needs --pid (the server's process id) to read its RSS")
    if args.checkpoint and (args.workflow or not args.launch):
        p.error("--checkpoint needs --launch and replaces --workflow")
    if args.jobs < 1 or args.warmup < 1:
        p.error("--jobs and --warmup must be at least 1")
    return args, server_args


def prompt_and_targets(args: argparse.Namespace) -> tuple[dict, list[tuple[str, str]]]:
    if args.checkpoint:
        prompt = txt2img_prompt(args.checkpoint.name, args.size, args.steps)
    else:
        prompt = json.loads(args.workflow.read_text()) if args.workflow else DEFAULT_PROMPT
    targets = [tuple(v.split(".", 1)) for v in args.vary]
    if not targets:
        targets = seed_inputs(prompt) or ([DEFAULT_VARY] if prompt is DEFAULT_PROMPT else [])
    if not targets:
        raise SystemExit("no seed input to vary: name one with --vary NODE.INPUT")
    return prompt, targets


def main(argv: list[str]) -> int:
    args, server_args = parse_args(argv)
    prompt, targets = prompt_and_targets(args)
    if not args.launch:
        rows = soak(args.url, args.pid, prompt, targets, args)
        print(summary(rows, args.warmup))
        return 0
    with tempfile.TemporaryDirectory(prefix="soak-") as base:
        if args.checkpoint:
            folder = Path(base) / "models" / "checkpoints"
            folder.mkdir(parents=True)
            shutil.copyfile(args.checkpoint, folder / args.checkpoint.name)  # symlinks are refused
        process, url = launch_server(Path(base), server_args)
        try:
            rows = soak(url, process.pid, prompt, targets, args)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(summary(rows, args.warmup))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
