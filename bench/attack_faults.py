"""Fault and compatibility cases of bench/attack.py: SIGKILL, a damaged database, two
servers on one folder, a full disk, linked model files, the default preview method."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from attack import TOKEN, Row, Target, answer, wait_history
from e2e_server import ROOT, free_port


def _slow(steps: int) -> dict:
    return {"1": {"class_type": "E2ESlow", "inputs": {"steps": steps}}}


async def _queue(http: aiohttp.ClientSession, prompt: dict, **extra) -> str:
    async with http.post("/prompt", json={"prompt": prompt, **extra}) as resp:
        return (await resp.json())["prompt_id"]


async def _wait_running(http: aiohttp.ClientSession, prompt_id: str) -> None:
    for _ in range(600):
        async with http.get("/queue") as resp:
            if [i[1] for i in (await resp.json())["queue_running"]] == [prompt_id]:
                return
        await asyncio.sleep(0.05)


def _server_exit(base: Path, *flags: str) -> tuple[int, str]:
    """Start server.py and expect it to refuse: (exit code, its last log line)."""
    try:
        done = subprocess.run([sys.executable, str(ROOT / "server.py"), "--base-directory",
                               str(base), "--port", str(free_port()), "--auth-token", TOKEN,
                               *flags], cwd=ROOT, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return -1, "still running after 60 s"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return done.returncode, lines[-1] if lines else ""


async def faults(root: Path, args) -> list[Row]:
    rows = []
    t = Target(root, "faults")
    async with t.session() as http:
        running = await _queue(http, _slow(100000))
        pending = [await _queue(http, _slow(2)) for _ in range(3)]
        await _wait_running(http, running)
    code, line = _server_exit(t.base)
    rows.append(Row("second server on the same user folder", "exit 2 naming the holder",
                    f"exit {code}: ...{line[line.find('in use'):][:48]}",
                    code == 2 and f"pid {t.proc.proc.pid}" in line))
    t.kill()
    t.restart()
    async with t.session() as http:
        history = await wait_history(http, [running, *pending], timeout=120)
    status = history.get(running, {}).get("status", {})
    kinds = [m[1].get("exception_type") for m in status.get("messages", [])]
    finished = sum(p in history for p in pending)
    rows.append(Row("SIGKILL during a job, then restart", "recorded as stopped; queue kept",
                    f"{status.get('status_str')} {kinds[-1:]}, {finished}/3 queued ran",
                    kinds[-1:] == ["ServerStopped"] and finished == 3))
    rows += await _damaged(t)
    rows.append(await _full_disk(root))
    return rows


async def _damaged(t: Target) -> list[Row]:
    """A WAL cut short after a SIGKILL, then random bytes in the database file."""
    async with t.session() as http:
        for _ in range(20):
            await _queue(http, _slow(1))
        await _queue(http, _slow(100000))
    t.kill()
    wal = Path(f"{t.database}-wal")
    size = wal.stat().st_size if wal.exists() else 0
    if size:
        with open(wal, "r+b") as f:
            f.truncate(size // 2 + 100)
    code, line = _server_exit(t.base)
    rows = [Row("start on a WAL cut short", "exit 2 naming the file",
                f"exit {code}: {line[line.find('jobs.sqlite3'):][:40]}...",
                code == 2 and str(t.database) in line)]
    for path in t.database.parent.glob("jobs.sqlite3-*"):
        path.unlink()
    data = bytearray(t.database.read_bytes())
    data[:100] = bytes(range(100))
    t.database.write_bytes(bytes(data))
    code, line = _server_exit(t.base)
    rows.append(Row("start on a database of random bytes", "exit 2 naming the file",
                    f"exit {code}: {line[line.find('damaged'):][:40]}...",
                    code == 2 and str(t.database) in line))
    return rows


async def _full_disk(root: Path) -> Row:
    disk = root / "small-disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        return Row("full disk under the job database", "503, then 200 once freed",
                   "skipped: cannot mount a small tmpfs here", True)
    try:
        t = Target(root, "full", "--database", str(disk / "jobs.sqlite3"))
        try:
            return await _fill_and_free(t, disk)
        finally:
            t.stop()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


async def _fill_and_free(t: Target, disk: Path) -> Row:
    filler = disk / "filler"
    async with t.session() as http:
        first = await _queue(http, _slow(40))
        await _wait_running(http, first)
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        full = await answer(http, "POST", "/prompt",
                            json={"prompt": _slow(1), "extra_data": {"pad": "x" * 200000}})
        await asyncio.sleep(3)  # the running job finishes while the disk is full
        filler.unlink()
        history = await wait_history(http, [first], timeout=60)
        after = await answer(http, "POST", "/prompt", json={"prompt": _slow(1)})
    recorded = history.get(first, {}).get("status", {}).get("status_str")
    return Row("full disk under the job database", "503, job kept, 200 once freed",
               f"{full[0]} {full[1]}; running job {recorded}; then {after[0]}",
               full[0] == 503 and recorded == "success" and after[0] == 200)


# -- compatibility -----------------------------------------------------------------------
async def compat(t: Target, args) -> list[Row]:
    rows = [await _linked_model(t)]
    if not args.quick:
        rows.append(await _previews(t))
    return rows


async def _linked_model(t: Target) -> Row:
    header = json.dumps({"__metadata__": {"source": "another disk"}}).encode()
    outside = t.base.parent / "shared-disk" / "shared.safetensors"
    outside.parent.mkdir(exist_ok=True)
    outside.write_bytes(len(header).to_bytes(8, "little") + header)
    folder = t.base / "models" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shared.safetensors").symlink_to(outside)
    async with t.session() as http:
        async with http.get("/models/checkpoints") as resp:
            listed = "shared.safetensors" in await resp.json()
        meta = await answer(http, "GET", "/view_metadata/checkpoints?filename=shared.safetensors")
        escape = await answer(http, "GET", "/view_metadata/checkpoints?filename="
                              "../../../shared-disk/shared.safetensors")
    return Row("model linked from another disk; ../ name", "listed, readable; ../ 404",
               f"listed={listed}, read {meta[0]}; ../ {escape[0]}",
               listed and meta[0] == 200 and escape[0] == 404)


async def _previews(t: Target) -> Row:
    from tests.fixtures.checkpoints import make_tiny_checkpoint

    await asyncio.to_thread(make_tiny_checkpoint, "sd15", t.base / "models" / "checkpoints")
    counts = []
    async with t.session() as http:
        for seed, extra in enumerate(({}, {"preview_method": "auto"})):
            ws = await http.ws_connect("/ws?clientId=previews")
            await ws.receive()
            pid = await _queue(http, _txt2img(seed), client_id="previews", extra_data=extra)
            frames = 0
            while True:
                msg = await ws.receive(timeout=300)
                if msg.type == aiohttp.WSMsgType.BINARY:
                    frames += 1
                elif (data := json.loads(msg.data))["type"] == "executing" and \
                        data["data"] == {"node": None, "prompt_id": pid}:
                    break
            await ws.close()
            counts.append(frames)
    return Row("live preview frames: default / asked (auto)", "0 / some (ComfyUI 0.8.0)",
               f"{counts[0]} / {counts[1]}", counts[0] == 0 and counts[1] > 0)


def _txt2img(seed: int) -> dict:
    """The default graph, tiny; a new seed each run so nothing comes from the cache."""
    return {
        "3": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": 2, "cfg": 7, "sampler_name": "euler", "scheduler": "normal",
            "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
            "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple",
              "inputs": {"ckpt_name": "sd15_tiny.safetensors"}},
        "5": {"class_type": "EmptyLatentImage",
              "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0],
                                                    "filename_prefix": "previews"}},
    }
