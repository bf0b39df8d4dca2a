"""Fault and compatibility cases of bench/attack.py: SIGKILL during a job and during a
save, a damaged database, two servers on one folder, a full disk, a server on another
loopback address, linked model files, the default preview method."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
from attack import TOKEN, Row, Target, answer, wait_history
from e2e_server import ROOT, free_port, prepare_base


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
    rows.append(await _kill_during_save(root))
    rows.append(await _full_disk(root))
    rows.append(await asyncio.to_thread(_other_loopback, root))
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
    whole = t.database.read_bytes()
    t.database.write_bytes(whole[: len(whole) // 2 + 100])
    code, line = _server_exit(t.base)
    rows.append(Row("start on a database file cut short", "exit 2 naming the file",
                    f"exit {code}: {line[line.find('damaged'):][:40]}...",
                    code == 2 and str(t.database) in line))
    t.database.write_bytes(whole)
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
        ws = await http.ws_connect("/ws?clientId=disk")
        await ws.receive()
        first = await _queue(http, _slow(40), client_id="disk")
        await _wait_running(http, first)
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        full = await answer(http, "POST", "/prompt",
                            json={"prompt": _slow(1), "extra_data": {"pad": "x" * 200000}})
        while json.loads((await ws.receive(timeout=120)).data)["type"] != "execution_success":
            pass  # the running job finishes while the disk is full
        unrecorded = first not in await (await http.get(f"/history/{first}")).json()
        await ws.close()
        filler.unlink()
        history = await wait_history(http, [first], timeout=60)
        after = await answer(http, "POST", "/prompt", json={"prompt": _slow(1)})
    recorded = history.get(first, {}).get("status", {}).get("status_str")
    return Row("full disk under the job database", "503, job kept, 200 once freed",
               f"{full[0]} {full[1]}; job ended {'unrecorded' if unrecorded else 'recorded'}"
               f", then {recorded}; then {after[0]}",
               full[0] == 503 and unrecorded and recorded == "success" and after[0] == 200)


async def _kill_during_save(root: Path) -> Row:
    """SIGKILL while SaveImage writes a large PNG: nothing truncated under a real name,
    the hidden partial file is not served after a restart."""
    t = Target(root, "save")
    out = t.base / "output"
    save = {"1": {"class_type": "AttackNoise", "inputs": {"size": 4000, "seed": 1}},
            "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0],
                                                        "filename_prefix": "killed"}}}
    async with t.session() as http:
        await _queue(http, save)
        partial = await asyncio.to_thread(_first_partial, out, 120.0)
    t.kill()
    whole = [p.name for p in out.iterdir() if not p.name.startswith(".") and _loads(p)]
    broken = [p.name for p in out.iterdir() if not p.name.startswith(".") and not _loads(p)]
    t.restart()
    try:
        async with t.session() as http:
            served = (await answer(http, "GET", f"/view?filename={partial}"))[0] \
                if partial else None
    finally:
        t.stop()
    return Row("SIGKILL during a save (48 MB PNG)", "no truncated file; partial not served",
               f"partial seen={partial is not None}, complete {len(whole)}, truncated "
               f"{len(broken)}, /view partial {served}",
               partial is not None and not broken and served is not None and served >= 400)


def _first_partial(folder: Path, timeout: float) -> str | None:
    """The name of the first hidden partial file to appear in `folder` (polled)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if folder.is_dir():
            for name in os.listdir(folder):
                if name.startswith(".") and name.endswith(".partial"):
                    return name
        time.sleep(0.001)
    return None


def _loads(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
        return True
    except OSError:
        return False


def _other_loopback(root: Path) -> Row:
    """--listen 127.0.0.2 without a token: loopback with the Host check on, so no token is
    required; its own address is served and a rebound Host is still refused."""
    base = prepare_base(root / "loopback2")
    port = free_port()
    url = f"http://127.0.0.2:{port}"
    with open(base / "server.log", "wb") as log_file:
        proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--base-directory",
                                 str(base), "--port", str(port), "--listen", "127.0.0.2"],
                                cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        own = _status(url + "/queue", {}, until=time.monotonic() + 60)
        rebound = _status(url + "/queue", {"Host": f"evil.example:{port}"})
    finally:
        proc.terminate()
        proc.wait(30)
    return Row("--listen 127.0.0.2, no token", "started; 200 own address; 403 rebound Host",
               f"{own} own address; {rebound} rebound", own == 200 and rebound == 403)


def _status(url: str, headers: dict, until: float = 0.0) -> int | str:
    """HTTP status of GET `url`, retrying connection errors until `until`."""
    import urllib.error
    import urllib.request

    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError as exc:
            if time.monotonic() > until:
                return f"no answer ({exc})"
            time.sleep(0.2)


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
