"""Small node classes and helpers shared by the execution tests."""

from __future__ import annotations

import threading

from comfy_core import runtime
from comfy_core.execution import Event, ExecutionBlocker, Executor, make_cache
from comfy_core.graph import validate_prompt
from comfy_core.registry import NodeRegistry


class Number:
    CATEGORY = "test"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0, "min": -100, "max": 10**6})}}

    def run(self, value):
        return (value,)


class Add:
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT",), "b": ("INT",)}}

    def run(self, a, b):
        return (a + b,)


class Show:
    """Output node: shows its value in the UI."""

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",)}}

    def run(self, value):
        return {"ui": {"values": [value]}}


class ShowList(Show):
    INPUT_IS_LIST = True

    def run(self, value):
        return {"ui": {"values": [list(value)]}}


class Range:
    RETURN_TYPES = ("INT",)
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"count": ("INT",)}}

    def run(self, count):
        return (list(range(count)),)


class Volatile(Number):
    @classmethod
    def IS_CHANGED(cls, value):
        return float("nan")


class Fail(Number):
    def run(self, value):
        raise ValueError(f"bad value {value}")


class Slow(Number):
    """Reports progress and can be interrupted inside the node."""

    def run(self, value):
        job = runtime.job()
        for i in range(3):
            job.progress(i + 1, 3)
        return (value,)


class Switch:
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"pick_a": ("BOOLEAN",), "a": ("INT", {"lazy": True}),
                             "b": ("INT", {"lazy": True})}}

    def check_lazy_status(self, pick_a, a=None, b=None):
        wanted = "a" if pick_a else "b"
        return [wanted] if (a if pick_a else b) is None else []

    def run(self, pick_a, a=None, b=None):
        return (a if pick_a else b,)


class Double:
    """Expands into an Add node that adds the input to itself."""

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT",)}, "hidden": {"uid": "UNIQUE_ID"}}

    def run(self, x, uid):
        graph = {f"{uid}.add": {"class_type": "Add", "inputs": {"a": x, "b": x}},
                 f"{uid}.show": {"class_type": "Show", "inputs": {"value": [f"{uid}.add", 0]}}}
        return {"result": ([f"{uid}.add", 0],), "expand": graph}


class Gate:
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",), "message": ("STRING",)}}

    def run(self, value, message):
        return (ExecutionBlocker(message or None),)


NODES = {c.__name__: c for c in (Number, Add, Show, ShowList, Range, Volatile, Fail, Slow,
                                 Switch, Double, Gate)}


def make_registry() -> NodeRegistry:
    registry = NodeRegistry()
    registry.register_mappings(NODES, None, "nodes")
    return registry


class Harness:
    """An executor plus the events of its last run."""

    def __init__(self, cache_kind: str = "classic", registry: NodeRegistry | None = None,
                 **cache_args) -> None:
        self.registry = registry if registry is not None else make_registry()
        self.executor = Executor(self.registry, make_cache(cache_kind, **cache_args))
        self.events: list[Event] = []
        self.interrupt = threading.Event()

    def run(self, prompt: dict, prompt_id: str = "p1", extra_data: dict | None = None):
        v = validate_prompt(self.registry, prompt)
        assert v.ok, v
        self.events = []
        return self.executor.run(v.prompt, prompt_id, extra_data or {}, v.outputs,
                                 self.events.append, self.interrupt)

    def of_type(self, kind: str) -> list[dict]:
        return [e.data for e in self.events if e.type == kind]

    def executing(self) -> list[str]:
        return [d["node"] for d in self.of_type("executing")]


def chain_prompt(value: int = 1) -> dict:
    """1 Number -> 3 Add(1, 2) <- 2 Number; 4 Show(3)."""
    return {
        "1": {"class_type": "Number", "inputs": {"value": value}},
        "2": {"class_type": "Number", "inputs": {"value": 10}},
        "3": {"class_type": "Add", "inputs": {"a": ["1", 0], "b": ["2", 0]}},
        "4": {"class_type": "Show", "inputs": {"value": ["3", 0]}},
    }
