import numpy as np
import pytest

from comfy_core.execution import CacheEntry, RamPressureCache, make_cache
from comfy_core.execution.cache import LruCache
from exec_nodes import Harness, chain_prompt


def entry(nbytes: int = 0) -> CacheEntry:
    return CacheEntry(([np.zeros(nbytes, dtype=np.uint8)],), None)


def test_make_cache_kinds():
    assert type(make_cache("classic")).__name__ == "ClassicCache"
    assert type(make_cache("lru", lru_size=3)).__name__ == "LruCache"
    assert type(make_cache("ram", ram_headroom_gb=1)).__name__ == "RamPressureCache"
    assert type(make_cache("none")).__name__ == "NoCache"
    with pytest.raises(ValueError, match="unknown cache kind"):
        make_cache("fifo")
    with pytest.raises(ValueError, match="at least 1"):
        make_cache("lru")


def test_lru_evicts_oldest_but_not_the_running_prompt():
    cache = LruCache(2)
    cache.begin_prompt()
    for key in "abc":
        cache.put(key, entry())
    assert len(cache) == 3  # all used by the running prompt
    cache.end_prompt(set("abc"))
    cache.begin_prompt()
    cache.get("a")
    cache.put("d", entry())
    assert set(cache._entries) == {"a", "d"}


def test_ram_policy_evicts_old_and_large_entries_under_pressure():
    free = {"bytes": 10_000}
    cache = RamPressureCache(headroom_bytes=5_000, available=lambda: free["bytes"])
    cache.begin_prompt()
    cache.put("old_small", entry(100))
    cache.put("old_big", entry(3_000))
    cache.begin_prompt()
    cache.put("new", entry(3_000))
    assert len(cache) == 3  # plenty of RAM: keep everything
    free["bytes"] = 3_000  # need 5,500 (headroom * 1.1): drop the old generation, big first
    assert cache.relieve_pressure() == 1
    assert set(cache._entries) == {"old_small", "new"}


def test_ram_policy_keeps_results_in_an_executor():
    h = Harness("ram", ram_headroom_gb=0.0)
    h.run(chain_prompt())
    h.run(chain_prompt())
    assert h.executing() == []
