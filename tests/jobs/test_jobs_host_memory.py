"""Freed heap memory goes back to the OS after each job (flat RSS over long runs)."""

import ctypes
import ctypes.util
import threading

import psutil
import pytest

from comfy_core.execution.cache import make_cache
from comfy_core.execution.executor import Executor
from comfy_core.jobs import JobStore
from comfy_core.jobs.host_memory import heap_trimmer
from comfy_core.jobs.worker import Worker
from comfy_core.registry import NodeRegistry

LIBC = ctypes.util.find_library("c")
GLIBC = LIBC is not None and hasattr(ctypes.CDLL(LIBC), "malloc_trim")
MIB = 1024 * 1024


class Number:
    CATEGORY = "test"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1})}}

    def run(self, value):
        return {"ui": {"value": [value]}, "result": (value,)}


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is a glibc function")
def test_trimming_returns_freed_small_blocks_to_the_os():
    libc = ctypes.CDLL(LIBC)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    process = psutil.Process()
    blocks = [libc.malloc(1000) for _ in range(120_000)]  # ~120 MiB of small heap blocks
    for b in blocks:
        ctypes.memset(b, 1, 1000)  # touch them so they are resident
    sentinel = libc.malloc(1000)  # pins the heap top: free alone cannot shrink it
    for b in blocks:
        libc.free(b)
    before = process.memory_info().rss
    heap_trimmer()()
    after = process.memory_info().rss
    libc.free(sentinel)
    assert before - after > 64 * MIB, (before / MIB, after / MIB)


def test_worker_releases_the_heap_after_every_job(tmp_path):
    registry = NodeRegistry()
    registry.register_mappings({"Number": Number}, {}, "test_nodes")
    store = JobStore(tmp_path / "jobs.sqlite3")
    done, releases = threading.Event(), []

    def release():
        releases.append(store.state_of(f"p{len(releases)}"))
        if len(releases) == 3:
            done.set()

    worker = Worker(store, Executor(registry, make_cache("classic")), lambda *a: None, release_heap=release)
    for n in range(3):
        store.submit(f"p{n}", {"1": {"class_type": "Number", "inputs": {"value": n}}}, {}, ["1"])
    worker.start()
    try:
        assert done.wait(30)
    finally:
        worker.stop()
        store.close()
    # once per job, after it ran and before its history record is written
    assert releases == ["running"] * 3
