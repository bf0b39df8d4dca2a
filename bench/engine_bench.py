"""Engine overhead: per-node cost of validation and execution on trivial nodes, and a
1,000-node graph (chain and wide fan-in) validated, run cold, and re-run from cache; and
the validation of a chain of output nodes that all fail (one bad constant at its root).

Run: .venv/bin/python bench/engine_bench.py [--nodes 1000] [--repeat 3]
Prints a table; it is not a test and asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from comfy_core.execution import Executor, make_cache  # noqa: E402
from comfy_core.graph import validate_prompt  # noqa: E402
from comfy_core.registry import NodeRegistry  # noqa: E402


class Const:
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"min": 0})}}

    def run(self, value):
        return (value,)


class Inc:
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT",)}, "optional": {"y": ("INT",)}}

    def run(self, x, y=0):
        return (x + y + 1,)


class PassOut(Inc):
    """An output node that passes its value on, so outputs can form a chain."""

    OUTPUT_NODE = True


class Out:
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT",)}}

    def run(self, x):
        return {"ui": {"x": [x]}}


def chain(n: int) -> dict:
    prompt = {"0": {"class_type": "Const", "inputs": {"value": 1}}}
    for i in range(1, n - 1):
        prompt[str(i)] = {"class_type": "Inc", "inputs": {"x": [str(i - 1), 0]}}
    prompt["out"] = {"class_type": "Out", "inputs": {"x": [str(n - 2), 0]}}
    return prompt


def wide(n: int) -> dict:
    """n/2 constants feeding a binary tree of Inc nodes into one output."""
    prompt: dict = {}
    layer = []
    for i in range(n // 2):
        prompt[f"c{i}"] = {"class_type": "Const", "inputs": {"value": i}}
        layer.append(f"c{i}")
    k = 0
    while len(layer) > 1:
        nxt = []
        for a, b in zip(layer[::2], layer[1::2]):
            prompt[f"s{k}"] = {"class_type": "Inc", "inputs": {"x": [a, 0], "y": [b, 0]}}
            nxt.append(f"s{k}")
            k += 1
        nxt += layer[len(layer) - len(layer) % 2:]
        layer = nxt
    prompt["out"] = {"class_type": "Out", "inputs": {"x": [layer[0], 0]}}
    return prompt


def failing_outputs(n: int) -> dict:
    """A constant out of its range feeding a chain of n-1 output nodes: every output fails."""
    prompt = {"0": {"class_type": "Const", "inputs": {"value": -1}}}
    for i in range(1, n):
        prompt[str(i)] = {"class_type": "PassOut", "inputs": {"x": [str(i - 1), 0]}}
    return prompt


def registry() -> NodeRegistry:
    reg = NodeRegistry()
    reg.register_mappings({"Const": Const, "Inc": Inc, "Out": Out, "PassOut": PassOut}, None,
                          "nodes")
    return reg


def bench_failing(n: int, repeat: int) -> list[tuple[str, int, float]]:
    reg, prompt = registry(), failing_outputs(n)
    assert not validate_prompt(reg, prompt).ok
    return [("failing outputs chain: validate", n,
             timed(lambda: validate_prompt(reg, prompt), repeat))]


def timed(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def bench(name: str, prompt: dict, repeat: int) -> list[tuple[str, int, float]]:
    reg = registry()
    v = validate_prompt(reg, prompt)
    assert v.ok, v.error

    def run(executor: Executor) -> None:
        result = executor.run(v.prompt, "bench", {}, v.outputs, lambda e: None, threading.Event())
        assert result.status_str == "success", result.error

    def cold() -> None:
        run(Executor(reg, make_cache("none")))

    warm_exec = Executor(reg, make_cache("classic"))
    run(warm_exec)
    n = len(prompt)
    return [(f"{name}: validate", n, timed(lambda: validate_prompt(reg, prompt), repeat)),
            (f"{name}: execute (no cache)", n, timed(cold, repeat)),
            (f"{name}: re-run (all cached)", n, timed(lambda: run(warm_exec), repeat))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = (bench("chain", chain(args.nodes), args.repeat)
            + bench("wide", wide(args.nodes), args.repeat)
            + bench_failing(args.nodes, args.repeat) + bench_failing(2 * args.nodes, args.repeat))
    print(f"{'case':32} {'nodes':>6} {'total ms':>10} {'us/node':>9}")
    for case, n, seconds in rows:
        print(f"{case:32} {n:6d} {seconds * 1e3:10.1f} {seconds / n * 1e6:9.1f}")


if __name__ == "__main__":
    main()
