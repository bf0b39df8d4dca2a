"""Bounded attack-and-fault run against real servers on loopback (not a test).

Starts server.py itself on free loopback ports, in temporary base folders, and replays the
hostile inputs, load and faults the hardening work covers: DNS rebinding, missing Host,
missing token, token in argv, a server on another loopback address, deep JSON, huge
integers, links leaving input/, broken multipart, pixel/frame amplifiers, huge request
bodies, 2,000 failing outputs, a 30,000-node cycle, an erroring chain feeding thousands of
outputs, many clients and websocket listeners, a websocket client that stops reading,
SIGKILL during a job and during a save, a damaged database (WAL or file cut short, random
bytes), two servers on one folder, a full disk (when a small tmpfs can be mounted), linked
model files and the default preview method. Prints one table row per
case: case, expected, got, ok.

    .venv/bin/python bench/attack.py [--jobs 200] [--clients 10] [--listeners 20] [--quick]

Everything runs on 127.0.0.1 and stops by itself; memory and time are bounded by the
arguments (defaults take a few minutes on a 2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
from e2e_server import ServerProcess, prepare_base  # noqa: E402

log = logging.getLogger("attack")
TOKEN = "attack-token-0123456789"
ATTACK_NODES = '''
class AttackConst:
    CATEGORY = "attack"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"min": 0, "max": 100})}}

    def run(self, value):
        return (value,)


class AttackPass(AttackConst):
    OUTPUT_NODE = True


class AttackBlob:
    """An output node whose UI result is `size` bytes of text (a large websocket message)."""

    CATEGORY = "attack"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"size": ("INT", {"min": 1, "max": 8 << 20}),
                             "seed": ("INT", {"min": 0, "max": 1 << 30})}}

    def run(self, size, seed):
        return {"ui": {"text": ["x" * size]}}


class AttackPair(AttackConst):
    """Two INT inputs: a chain link and a constant (an erroring chain when it is -1)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"min": 0, "max": 100}),
                             "b": ("INT", {"min": 0, "max": 100})}}

    def run(self, a, b):
        return (a + b,)


class AttackNoise:
    """A size x size image of seeded noise: slow to compress, so a save takes a while."""

    CATEGORY = "attack"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"size": ("INT", {"min": 8, "max": 8192}),
                             "seed": ("INT", {"min": 0, "max": 1 << 30})}}

    def run(self, size, seed):
        import torch

        generator = torch.Generator().manual_seed(seed)
        return (torch.rand((1, size, size, 3), generator=generator),)


NODE_CLASS_MAPPINGS = {"AttackConst": AttackConst, "AttackPass": AttackPass,
                       "AttackBlob": AttackBlob, "AttackPair": AttackPair,
                       "AttackNoise": AttackNoise}
'''


@dataclass(frozen=True)
class Row:
    case: str
    expected: str
    got: str
    ok: bool


class Target:
    """A server under attack: its own base folder, a token, requests authorised by default."""

    def __init__(self, root: Path, name: str, *flags: str, token: bool = True) -> None:
        self.base = prepare_base(root / name)
        (self.base / "custom_nodes" / "attack_nodes.py").write_text(ATTACK_NODES)
        self.flags = (("--auth-token", TOKEN) if token else ()) + flags
        self.headers = {"Authorization": f"Bearer {TOKEN}"} if token else {}
        self.proc = ServerProcess(self.base, *self.flags)
        assert self.proc.url.startswith("http://127.0.0.1:"), "loopback only"

    @property
    def url(self) -> str:
        return self.proc.url

    @property
    def port(self) -> int:
        return self.proc.port

    def session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(self.url, headers=self.headers,
                                     timeout=aiohttp.ClientTimeout(total=300))

    def restart(self) -> None:
        self.proc = ServerProcess(self.base, *self.flags)

    def stop(self) -> None:
        self.proc.stop()

    def kill(self) -> None:
        self.proc.kill()

    @property
    def database(self) -> Path:
        return self.base / "user" / "jobs.sqlite3"


async def answer(http: aiohttp.ClientSession, method: str, path: str, **kw) -> tuple[int, str]:
    """(status, error type or short body) of one request."""
    async with http.request(method, path, **kw) as resp:
        text = await resp.text()
    try:
        body = json.loads(text)
        error = body.get("error") if isinstance(body, dict) else None
        kind = error.get("type") if isinstance(error, dict) else error
        return resp.status, str(kind if kind is not None else text)[:48]
    except ValueError:
        return resp.status, text[:60]


async def wait_history(http: aiohttp.ClientSession, prompt_ids: list[str],
                       timeout: float = 300.0) -> dict:
    """Poll /history until every id has a record (or the timeout); returns the records."""
    deadline = time.monotonic() + timeout
    while True:
        async with http.get("/history") as resp:
            history = await resp.json()
        if all(p in history for p in prompt_ids) or time.monotonic() > deadline:
            return history
        await asyncio.sleep(0.2)


def print_table(rows: list[Row], seconds: float) -> None:
    widths = [max(len(getattr(r, f)) for r in rows + [Row("case", "expected", "got", True)])
              for f in ("case", "expected", "got")]
    line = f"{'case':{widths[0]}}  {'expected':{widths[1]}}  {'got':{widths[2]}}  ok"
    print(line)
    print("-" * len(line))
    for r in rows:
        print(f"{r.case:{widths[0]}}  {r.expected:{widths[1]}}  {r.got:{widths[2]}}  "
              f"{'yes' if r.ok else 'NO'}")
    failed = sum(not r.ok for r in rows)
    print(f"\n{len(rows)} cases, {failed} not as expected, {seconds:.0f} s")


async def run_all(args: argparse.Namespace, root: Path) -> list[Row]:
    import attack_cases as cases
    import attack_faults as faults

    rows: list[Row] = []
    target = Target(root, "main")
    try:
        for group in (cases.security, cases.bad_input, cases.load, faults.compat):
            rows += await group(target, args)
    finally:
        target.stop()
    rows += await faults.faults(root, args)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs in the load case")
    parser.add_argument("--clients", type=int, default=10, help="submitting clients")
    parser.add_argument("--listeners", type=int, default=20, help="extra websocket clients")
    parser.add_argument("--quick", action="store_true", help="skip the tiny-model cases")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.path.insert(0, str(HERE))
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="attack-") as tmp:
        rows = asyncio.run(run_all(args, Path(tmp)))
    print_table(rows, time.monotonic() - start)
    sys.exit(0 if all(r.ok for r in rows) else 1)


if __name__ == "__main__":
    main()
