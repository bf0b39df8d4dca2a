"""Output cache policies (COMPAT 4.5): classic, lru, ram, none.

Entries are keyed by `comfy_core.graph.CacheKeys` digests and hold a node's outputs and
UI. The executor keeps the values of the running prompt itself, so a policy may drop any
entry at any time without breaking the run; policies only decide what survives between
prompts. `begin_prompt`/`end_prompt` bracket each run ("generations").
"""

from __future__ import annotations

import logging
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

log = logging.getLogger(__name__)

GB = 1024**3
RAM_HYSTERESIS = 1.1


@dataclass(frozen=True)
class CacheEntry:
    """outputs: one list of values per output socket; ui: the node's merged UI or None."""

    outputs: tuple
    ui: dict | None


class CachePolicy:
    """Base policy: a plain dict that keeps everything (subclasses decide what to drop)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._used: dict[str, int] = {}  # key -> generation that last touched it
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._touch(key)
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        self._entries[key] = entry
        self._touch(key)
        self._after_put()

    def begin_prompt(self) -> None:
        self._generation += 1

    def end_prompt(self, used: set[str]) -> None:
        """Called after each prompt with every key the prompt used."""

    def clear(self) -> None:
        self._entries.clear()
        self._used.clear()

    def _touch(self, key: str) -> None:
        self._entries.move_to_end(key)
        self._used[key] = self._generation

    def _drop(self, key: str) -> None:
        self._entries.pop(key, None)
        self._used.pop(key, None)

    def _after_put(self) -> None:
        pass


class ClassicCache(CachePolicy):
    """Keep only the entries the latest prompt used (ComfyUI's default)."""

    def end_prompt(self, used: set[str]) -> None:
        for key in [k for k in self._entries if k not in used]:
            self._drop(key)


class LruCache(CachePolicy):
    """Keep up to `max_entries` across prompts, never dropping the running prompt's."""

    def __init__(self, max_entries: int) -> None:
        super().__init__()
        if max_entries < 1:
            raise ValueError(f"lru cache size must be at least 1, got {max_entries}")
        self.max_entries = max_entries

    def _after_put(self) -> None:
        self._trim()

    def end_prompt(self, used: set[str]) -> None:
        self._trim()

    def _trim(self) -> None:
        for key in list(self._entries):  # oldest first
            if len(self._entries) <= self.max_entries:
                break
            if self._used.get(key) != self._generation:
                self._drop(key)


def available_ram() -> int:
    import psutil  # local: psutil is only needed by this policy

    return int(psutil.virtual_memory().available)


def estimate_bytes(value: Any, depth: int = 0) -> int:
    """Rough size of cached values: tensor/array `nbytes`, containers summed."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    if depth < 6 and isinstance(value, (list, tuple)):
        return sum(estimate_bytes(v, depth + 1) for v in value)
    if depth < 6 and isinstance(value, dict):
        return sum(estimate_bytes(v, depth + 1) for v in value.values())
    try:
        return sys.getsizeof(value)
    except TypeError:
        return 64


class RamPressureCache(CachePolicy):
    """Keep everything until available RAM falls below `headroom_bytes`; then drop the
    least recently used entries (largest first within a generation) until available
    RAM plus what was freed reaches headroom * 1.1."""

    def __init__(self, headroom_bytes: int, available: Callable[[], int] = available_ram) -> None:
        super().__init__()
        self.headroom_bytes = headroom_bytes
        self._available = available
        self._sizes: dict[str, int] = {}

    def put(self, key: str, entry: CacheEntry) -> None:
        self._sizes[key] = estimate_bytes(entry.outputs)
        super().put(key, entry)

    def _drop(self, key: str) -> None:
        super()._drop(key)
        self._sizes.pop(key, None)

    def _after_put(self) -> None:
        self.relieve_pressure()

    def end_prompt(self, used: set[str]) -> None:
        self.relieve_pressure()

    def clear(self) -> None:
        super().clear()
        self._sizes.clear()

    def relieve_pressure(self) -> int:
        """Evict until the headroom is restored; returns the number of entries dropped."""
        available = self._available()
        if available >= self.headroom_bytes:
            return 0
        target = self.headroom_bytes * RAM_HYSTERESIS
        order = sorted(self._entries, key=lambda k: (self._used.get(k, 0), -self._sizes.get(k, 0)))
        freed = dropped = 0
        for key in order:
            if available + freed >= target:
                break
            freed += self._sizes.get(key, 0)
            self._drop(key)
            dropped += 1
        log.info("RAM pressure: dropped %d cache entries (~%.1f MB)", dropped, freed / 2**20)
        return dropped


class NoCache(CachePolicy):
    """Cache nothing: every prompt runs every node it needs."""

    def get(self, key: str) -> CacheEntry | None:
        return None

    def put(self, key: str, entry: CacheEntry) -> None:
        pass


_KINDS: dict[str, Callable[[int, float], CachePolicy]] = {
    "classic": lambda lru_size, headroom: ClassicCache(),
    "lru": lambda lru_size, headroom: LruCache(lru_size),
    "ram": lambda lru_size, headroom: RamPressureCache(int(headroom * GB)),
    "none": lambda lru_size, headroom: NoCache(),
}


def make_cache(kind: str, *, lru_size: int = 0, ram_headroom_gb: float = 4.0) -> CachePolicy:
    """Build a policy by name: "classic" | "lru" (needs lru_size >= 1) | "ram" | "none"."""
    factory = _KINDS.get(kind)
    if factory is None:
        raise ValueError(f"unknown cache kind {kind!r}; expected one of {sorted(_KINDS)}")
    return factory(lru_size, ram_headroom_gb)
