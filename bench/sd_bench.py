"""Stable Diffusion benchmark: our engine against diffusers on the same weights, same run.

Measures, per engine, the median of `--runs` runs after one warm-up: sampler it/s (euler,
normal schedule, CFG batched), VAE decode time and peak VRAM per batch size; model load time
(checkpoint file -> UNet ready on the device); time to first image and peak RSS of a cold
process; and the time until a fresh server answers `/` (HTTP) and `/object_info` (nodes).

    python bench/sd_bench.py --family sd15 --device cpu --size 256 --steps 4
    python bench/sd_bench.py --family sdxl --size 1024 --lowvram --vram-cap-gib 4 --no-peer
    bash bench/run_gpu.sh        # every GPU workload, one markdown file

Full-size random checkpoints are written by comfy_core.tools.make_checkpoint when missing.
Prints a markdown table (and appends it to --out); not a test, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sd_common import (NEGATIVE, POSITIVE, Figures, Workload, cap_vram, machine_line,  # noqa: E402
                       make_checkpoint, median, peak_rss_gib, peak_vram_gib, reset_peak, timed)

RESULTS = HERE / "results"
CHECKPOINTS = RESULTS / "base" / "models" / "checkpoints"


def measure(engine, w: Workload, batch: int) -> Figures:
    """One warm-up run, then `w.runs` timed sample + decode runs at `batch`."""
    figures = Figures(engine.name, batch)
    first, latent = timed(lambda: engine.sample(batch), w.device)
    figures.first_run_s = first + timed(lambda: engine.decode(latent), w.device)[0]
    for _ in range(w.runs):
        reset_peak(w.device)
        sample_s, latent = timed(lambda: engine.sample(batch), w.device)
        decode_s, _ = timed(lambda: engine.decode(latent), w.device)
        figures.runs.append({"sample_s": sample_s, "decode_s": decode_s, "peak_vram_gib": peak_vram_gib(w.device)})
    figures.it_per_s = w.steps / median([r["sample_s"] for r in figures.runs])
    figures.decode_s = median([r["decode_s"] for r in figures.runs])
    figures.peak_vram_gib = max(r["peak_vram_gib"] for r in figures.runs)
    return figures


def load_times(engine, w: Workload) -> list[float]:
    """Load `w.runs` times (unloading between), leaving the last load in place."""
    times = []
    for i in range(w.runs):
        if i:
            engine.unload()
        times.append(timed(engine.load, w.device)[0])
    return times


def run_engines(w: Workload, peer: bool) -> tuple[dict, list[Figures]]:
    from sd_ours import Ours

    cap = cap_vram(w)
    ours = Ours(w, RESULTS / "base", cap)
    loads = {"ours": load_times(ours, w)}
    ours.encode(POSITIVE, NEGATIVE)
    figures = [measure(ours, w, b) for b in w.batches]
    cond, family = ours.conditioning(), ours.model.model.family.name
    ours.unload()
    if peer:
        from sd_peer import Diffusers

        other = Diffusers(w)
        loads["diffusers"] = load_times(other, w)
        other.set_conditioning(cond)
        figures += [measure(other, w, b) for b in w.batches]
        other.unload()
    return {"family": family, "loads": loads}, figures


# ---- cold processes ---------------------------------------------------------------------


def first_image(engine_name: str, w: Workload) -> dict:
    """In a fresh process: load, encode, sample batch 1, decode. The parent times it."""
    import torch

    cap = cap_vram(w)
    if engine_name == "ours":
        from sd_ours import Ours

        engine = Ours(w, RESULTS / "base", cap)
        engine.load()
        engine.encode(POSITIVE, NEGATIVE)
    else:
        from sd_peer import Diffusers

        engine = Diffusers(w)
        engine.load()
        ids = prompt_ids(POSITIVE)
        cond, uncond = engine.encode(ids), engine.encode(prompt_ids(NEGATIVE))
        engine.set_conditioning({**cond, "uncond": uncond["cond"],
                                 **({"upooled": uncond["pooled"]} if "pooled" in uncond else {})})
    engine.decode(engine.sample(1))
    return {"end": time.time(), "peak_rss_gib": peak_rss_gib()}


def prompt_ids(text: str) -> "torch.Tensor":
    """(1, 77) CLIP token ids: BOS, the prompt, EOS, padded with EOS."""
    import torch

    from comfy_core.text.tokenizer import ClipTokenizer

    ids = [49406, *ClipTokenizer().encode(text)[:75], 49407]
    return torch.tensor([ids + [49407] * (77 - len(ids))])


def _workload_args(w: Workload) -> list[str]:
    args = ["--checkpoint", str(w.checkpoint), "--device", w.device, "--size", str(w.size),
            "--steps", str(w.steps), "--cfg", str(w.cfg), "--runs", "1"]
    args += ["--lowvram"] if w.lowvram else []
    args += ["--vram-cap-gib", str(w.vram_cap_gib)] if w.vram_cap_gib else []
    args += ["--compile"] if w.compile else []
    args += [] if w.half else ["--fp32"]
    return args


def cold_start(engine_name: str, w: Workload, runs: int) -> dict:
    times, rss = [], []
    for _ in range(runs):
        start = time.time()
        done = subprocess.run([sys.executable, __file__, "--first-image", engine_name, *_workload_args(w)],
                              capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        times.append(result["end"] - start)
        rss.append(result["peak_rss_gib"])
    return {"first_image_s": median(times), "peak_rss_gib": median(rss), "runs": times}


def server_ready(device: str, runs: int) -> dict:
    """Medians of seconds from `python server.py` to the first answer on `/` (HTTP ready: the
    editor page, while the nodes load) and on `/object_info` (nodes ready)."""
    http, nodes = [], []
    for _ in range(runs):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with tempfile.TemporaryDirectory(prefix="ready-") as base:
            start = time.time()
            cmd = [sys.executable, str(HERE.parent / "server.py"), "--listen", "127.0.0.1", "--port", str(port),
                   "--base-directory", base] + (["--cpu"] if device == "cpu" else [])
            proc = subprocess.Popen(cmd, cwd=HERE.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                http.append(_wait_ready(f"http://127.0.0.1:{port}/", start, proc))
                nodes.append(_wait_ready(f"http://127.0.0.1:{port}/object_info", start, proc))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    return {"http_s": median(http), "nodes_s": median(nodes)}


def _wait_ready(url: str, start: float, proc: subprocess.Popen) -> float:
    """Seconds from `start` to the first answer of `url` (an API request sent while the nodes
    load is held by the server until they are ready, so it answers right then)."""
    while time.time() - start < 120:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=120) as reply:
                reply.read()
            return time.time() - start
        except OSError:
            time.sleep(0.01)
    raise TimeoutError(f"{url} did not answer within 120 s")


# ---- report -----------------------------------------------------------------------------


def table(w: Workload, info: dict, figures: list[Figures], cold: dict, ready: dict | None) -> str:
    mode = ("cpu" if w.device == "cpu" else "low_vram" if w.lowvram else "normal_vram") + (f", GPU capped at {w.vram_cap_gib:g} GiB"
                                                           if w.vram_cap_gib else "")
    lines = [f"Machine: {machine_line(w.device)}", "",
             f"{info['family']} {w.size}x{w.size}, {w.steps} steps, euler/normal, cfg {w.cfg:g}, "
             f"{str(w.dtype).removeprefix('torch.')}, {mode}{', --compile' if w.compile else ''}; "
             f"medians of {w.runs} runs after one warm-up", "",
             "| Engine | Batch | it/s | s/step | VAE decode (s) | Peak VRAM (GiB) | Warm-up run (s) |",
             "|---|---|---|---|---|---|---|"]
    for f in figures:
        lines.append(f"| {f.engine} | {f.batch} | {f.it_per_s:.2f} | {1 / f.it_per_s:.3f} | {f.decode_s:.2f} | "
                     f"{f.peak_vram_gib:.2f} | {f.first_run_s:.1f} |")
    lines += ["", "| Engine | Model load (s) | First image, cold process (s) | Peak RSS, cold process (GiB) |",
              "|---|---|---|---|"]
    for name in dict.fromkeys([*info["loads"], *cold]):
        loads, c = info["loads"].get(name, []), cold.get(name, {})
        lines.append(f"| {name} | {median(loads):.2f} | {c.get('first_image_s', float('nan')):.2f} | "
                     f"{c.get('peak_rss_gib', float('nan')):.2f} |")
    if ready is not None:
        lines += ["", f"Server ready (medians from process start): HTTP (first `/` answer) {ready['http_s']:.2f} s, "
                      f"nodes (first `/object_info` answer) {ready['nodes_s']:.2f} s"]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Workload]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--family", choices=["sd15", "sdxl"], help="make/use bench/results/<family>_full.safetensors")
    p.add_argument("--checkpoint", type=Path, help="a checkpoint file instead of --family")
    p.add_argument("--device", default="cuda")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--cfg", type=float, default=7.0)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--fp32", action="store_true", help="fp32 on CUDA too (the CPU is always fp32)")
    p.add_argument("--lowvram", action="store_true")
    p.add_argument("--vram-cap-gib", type=float)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--no-peer", action="store_true", help="skip diffusers")
    p.add_argument("--cold-only", action="store_true", help="only the cold-process and server-ready figures")
    p.add_argument("--cold-runs", type=int, default=3, help="cold-process runs per engine (0: skip)")
    p.add_argument("--ready-runs", type=int, default=0, help="server-ready runs (0: skip)")
    p.add_argument("--out", type=Path, help="append the markdown table here")
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--first-image", choices=["ours", "diffusers"], help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if (a.family is None) == (a.checkpoint is None):
        p.error("give exactly one of --family and --checkpoint")
    ckpt = a.checkpoint or make_checkpoint(a.family, CHECKPOINTS / f"{a.family}_full.safetensors")
    w = Workload(checkpoint=ckpt, device=a.device, size=a.size, steps=a.steps, cfg=a.cfg,
                 batches=tuple(a.batches), runs=a.runs, half=not a.fp32, lowvram=a.lowvram,
                 vram_cap_gib=a.vram_cap_gib, compile=a.compile)
    return a, w


def main(argv: list[str]) -> int:
    args, w = parse_args(argv)
    if args.first_image:
        print(json.dumps(first_image(args.first_image, w)))
        return 0
    info, figures = ({"family": w.checkpoint.stem, "loads": {}}, []) if args.cold_only else \
        run_engines(w, peer=not args.no_peer)
    engines = ["ours"] + ([] if args.no_peer else ["diffusers"])
    cold = {name: cold_start(name, replace(w, runs=1), args.cold_runs) for name in engines} if args.cold_runs else {}
    ready = server_ready(w.device, args.ready_runs) if args.ready_runs else None
    text = table(w, info, figures, cold, ready)
    print(text)
    if args.out:
        with args.out.open("a") as fh:
            fh.write(text + "\n")
    if args.json:
        args.json.write_text(json.dumps({"workload": {**asdict(w), "checkpoint": str(w.checkpoint)}, **info,
                                         "figures": [asdict(f) for f in figures], "cold": cold, "ready": ready},
                                        indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
