"""API response time while a job runs: starts server.py on a free port with a slow node,
keeps it busy, and prints latency percentiles of light routes (not a test).

    .venv/bin/python bench/api_latency.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from e2e_server import ServerProcess, prepare_base  # noqa: E402

ROUTES = ("/system_stats", "/queue", "/history?max_items=10", "/prompt", "/api/jobs?limit=10")


async def measure(url: str, requests: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {r: [] for r in ROUTES}
    async with aiohttp.ClientSession(url) as http:
        busy = {"1": {"class_type": "E2ESlow", "inputs": {"steps": 100000}}}
        await http.post("/prompt", json={"prompt": busy})
        for i in range(20):  # some history and pending jobs to read
            await http.post("/prompt", json={"prompt": {"1": {"class_type": "E2ESlow",
                                                              "inputs": {"steps": i + 1}}}})
        for _ in range(requests):
            for route in ROUTES:
                start = time.perf_counter()
                async with http.get(route) as resp:
                    await resp.read()
                timings[route].append((time.perf_counter() - start) * 1000)
        await http.post("/queue", json={"clear": True})
        await http.post("/interrupt")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc = ServerProcess(prepare_base(Path(tmp)))
        try:
            timings = asyncio.run(measure(proc.url, args.requests))
        finally:
            proc.stop()
    print(f"{'route':28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   (job running)")
    for route, values in timings.items():
        values.sort()
        p95 = values[int(len(values) * 0.95) - 1]
        print(f"{route:28} {statistics.median(values):8.2f} {p95:8.2f} {values[-1]:8.2f}")


if __name__ == "__main__":
    main()
