"""Running prompts: the executor, cache policies, typed events and ExecutionBlocker."""

from comfy_core.execution.blocker import ExecutionBlocker
from comfy_core.execution.cache import (
    CacheEntry,
    CachePolicy,
    ClassicCache,
    LruCache,
    NoCache,
    RamPressureCache,
    make_cache,
)
from comfy_core.execution.events import Event
from comfy_core.execution.executor import ExecutionResult, Executor

__all__ = [
    "CacheEntry",
    "CachePolicy",
    "ClassicCache",
    "Event",
    "ExecutionBlocker",
    "ExecutionResult",
    "Executor",
    "LruCache",
    "NoCache",
    "RamPressureCache",
    "make_cache",
]
