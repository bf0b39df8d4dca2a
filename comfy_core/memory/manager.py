"""The memory manager: which models sit on the compute device, and how much of each.

One MemoryManager is built by the app and reached through `runtime.app().memory`; it holds
weak references to the models it loaded, so dropping a model anywhere frees it. Policy
follows COMPAT 10.3: models a step needs are loaded together after evicting the least
recently used others until 1.1 x required + inference memory is free; a model that still
does not fit is loaded partially (layer streaming) in the normal and low VRAM states.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, TypeVar

import torch

from comfy_core.memory import devices
from comfy_core.memory.devices import DtypeChoice, MemoryInfo, ModelKind
from comfy_core.memory.options import MemoryOptions, VramState
from comfy_core.memory.recovery import retry_on_oom
from comfy_core.memory.protocol import ManagedModel

log = logging.getLogger(__name__)

T = TypeVar("T")

# COMPAT 10.3: free this multiple of the bytes about to be loaded.
LOAD_HEADROOM = 1.1
# LOW_VRAM keeps this divisor of the free memory as a safety margin for partial loads.
LOW_VRAM_DIVISOR = 1.3
# A partially loaded model is re-planned only when its budget moves by this fraction of
# its size; small free-memory fluctuations must not reshuffle weights every step.
REPLAN_FRACTION = 0.05


@dataclass
class _Entry:
    ref: weakref.ref
    last_used: int
    budget: int | None  # None: fully loaded
    capped: bool = False  # shrunk after an OOM: not grown back until `uncap`


def resolve_vram_state(options: MemoryOptions, device: torch.device, faked: bool) -> VramState:
    """The state the manager runs in: the CPU is unmanaged unless its size is faked (tests),
    and MPS memory is unified (SHARED)."""
    if options.vram_state == VramState.DISABLED:
        return VramState.DISABLED
    if device.type == "cpu":
        return options.vram_state if faked else VramState.DISABLED
    if device.type == "mps":
        return VramState.SHARED
    return options.vram_state


def _normalize(device: torch.device | str) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _unique(models: Iterable[ManagedModel]) -> list[ManagedModel]:
    """The models in order, each once (a step may list the same model twice)."""
    by_id: dict[int, ManagedModel] = {}
    for model in models:
        by_id.setdefault(id(model), model)
    return list(by_id.values())


class MemoryManager:
    """Owns one compute device's budget and the models loaded on it.

    `total_memory` fakes the device size; free memory is then counted from the models'
    `loaded_size()`, which is how it is tested on the CPU.
    """

    def __init__(
        self,
        options: MemoryOptions,
        device: torch.device | str | None = None,
        *,
        total_memory: int | None = None,
    ) -> None:
        self.options = options
        self.device = _normalize(device) if device is not None else devices.default_device(options)
        self._fake_total = total_memory
        self.vram_state = resolve_vram_state(options, self.device, total_memory is not None)
        self._entries: dict[int, _Entry] = {}
        self._clock = itertools.count()
        self._lock = threading.RLock()

    # ---- sizes -----------------------------------------------------------------------

    def memory_info(self) -> MemoryInfo:
        """Total and free bytes of the device (counted from the models when faked)."""
        if self._fake_total is None:
            return devices.memory_info(self.device)
        with self._lock:
            used = sum(m.loaded_size() for m in self._live_models())
        free = max(0, self._fake_total - used)
        return MemoryInfo(self._fake_total, free, self._fake_total, free)

    def free_memory(self) -> int:
        return self.memory_info().free

    @property
    def reserve_bytes(self) -> int:
        if self.options.reserve_bytes is not None:
            return self.options.reserve_bytes
        return devices.default_reserve_bytes(self.memory_info().total)

    def inference_bytes(self, extra_bytes: int = 0) -> int:
        """Memory kept free for activations: max(min inference, extra + reserve)."""
        minimum = self.options.min_inference_bytes + self.reserve_bytes
        return max(minimum, extra_bytes + self.reserve_bytes)

    # ---- model placement -------------------------------------------------------------

    def ensure_loaded(
        self,
        models: Sequence[ManagedModel],
        extra_bytes: int = 0,
        *,
        device: torch.device | str | None = None,
    ) -> None:
        """Load everything one step needs, evicting LRU others first. `extra_bytes` is
        the step's own working memory; `device` sends the models to a side device (e.g.
        the CPU for --cpu-vae) where no budget is kept."""
        unique = _unique(models)
        target = self.device if device is None else _normalize(device)
        with self._lock:
            if target != self.device:
                self._load_elsewhere(unique, target)
                return
            if self.vram_state == VramState.DISABLED:
                for model in unique:
                    self._load_one(model, None)
                return
            inference = self.inference_bytes(extra_bytes)
            required = sum(self._missing(m) for m in unique)
            if self.vram_state != VramState.HIGH_VRAM:
                # Also when everything is loaded: the step still needs its working memory.
                self._evict(int(required * LOAD_HEADROOM) + inference, keep=unique)
            for model in unique:
                self._load_one(model, self._budget(model, inference))

    def free(self, required_bytes: int, keep: Sequence[ManagedModel] = ()) -> int:
        """Offload least recently used models (except `keep`) until `required_bytes` are
        free; returns the free bytes afterwards, which may still be fewer."""
        with self._lock:
            self._evict(required_bytes, keep=keep)
            return self.free_memory()

    def offload(self, model: ManagedModel) -> None:
        with self._lock:
            model.offload()
            self._entries.pop(id(model), None)

    def unload_all(self) -> None:
        """Offload every loaded model and return cached device memory to the driver."""
        with self._lock:
            for model in self._live_models():
                model.offload()
            self._entries.clear()
            devices.empty_cache(self.device)

    def on_prompt_end(self) -> None:
        """Called after each prompt: without smart memory nothing stays resident."""
        if not self.options.smart_memory:
            self.unload_all()

    def loaded_models(self) -> list[ManagedModel]:
        """Models this manager loaded and that are still alive, least recently used first."""
        with self._lock:
            return [m for _, m in sorted(self._live(), key=lambda km: self._entries[km[0]].last_used)]

    def is_partially_loaded(self, model: ManagedModel) -> bool:
        entry = self._entries.get(id(model))
        return entry is not None and entry.ref() is model and entry.budget is not None

    # ---- placement helpers -----------------------------------------------------------

    def _live(self) -> list[tuple[int, ManagedModel]]:
        """(key, model) for live entries; entries whose model died are dropped."""
        live = []
        for key, entry in list(self._entries.items()):
            model = entry.ref()
            if model is None:
                del self._entries[key]
            else:
                live.append((key, model))
        return live

    def _live_models(self) -> list[ManagedModel]:
        return [m for _, m in self._live()]

    def _entry(self, model: ManagedModel) -> _Entry | None:
        entry = self._entries.get(id(model))
        return entry if entry is not None and entry.ref() is model else None

    def _missing(self, model: ManagedModel) -> int:
        """Bytes that loading `model` fully would add (0 in NO_VRAM: nothing will)."""
        if self.vram_state == VramState.NO_VRAM:
            return 0
        loaded = model.loaded_size() if self._entry(model) is not None else 0
        return max(0, model.model_size() - loaded)

    def _budget(self, model: ManagedModel, inference: int) -> int | None:
        """None for a full load, else the resident bytes a partial load may keep."""
        state = self.vram_state
        if state in (VramState.HIGH_VRAM, VramState.SHARED, VramState.DISABLED):
            return None
        if state == VramState.NO_VRAM:
            return 0
        loaded = model.loaded_size() if self._entry(model) is not None else 0
        room = loaded + self.free_memory() - inference
        if state == VramState.LOW_VRAM:
            room = int(room / LOW_VRAM_DIVISOR)
        return None if room >= model.model_size() else max(0, room)

    def _load_one(self, model: ManagedModel, budget: int | None) -> None:
        entry = self._entry(model)
        if entry is not None and not self._needs_reload(model, entry, budget):
            entry.last_used = next(self._clock)
            return
        model.load(self.device, budget)
        if budget is None:
            log.info("loaded %s completely (%d bytes)", type(model).__name__, model.model_size())
        else:
            log.info(
                "loaded %s partially: %d of %d bytes resident (budget %d)",
                type(model).__name__, model.loaded_size(), model.model_size(), budget,
            )
        self._entries[id(model)] = _Entry(weakref.ref(model), next(self._clock), budget)

    def _needs_reload(self, model: ManagedModel, entry: _Entry, budget: int | None) -> bool:
        """Loaded models only grow: a full model stays full, a partial one is re-planned when
        its budget rose noticeably. Shrinking happens by LRU eviction (or the OOM path),
        so a tight step never reshuffles weights it already has on the device."""
        if _normalize(model.device) != self.device:
            return True  # moved away behind our back (e.g. a clone sharing the module)
        if entry.capped:
            return False
        if entry.budget is None:
            return model.loaded_size() < model.model_size()
        if budget is None:
            return True
        return budget - entry.budget > REPLAN_FRACTION * model.model_size()

    def _load_elsewhere(self, models: list[ManagedModel], target: torch.device) -> None:
        for model in models:
            self._entries.pop(id(model), None)
            if model.device != target or model.loaded_size() < model.model_size():
                model.load(target, None)

    def _evict(self, needed: int, keep: Sequence[ManagedModel]) -> None:
        keep_ids = {id(m) for m in keep}
        evicted = False
        while self.free_memory() < needed:
            candidates = [(self._entries[k].last_used, k, m) for k, m in self._live() if k not in keep_ids]
            if not candidates:
                break
            _, key, model = min(candidates, key=lambda c: c[0])
            log.info("offloading %s to free memory", type(model).__name__)
            model.offload()
            del self._entries[key]
            evicted = True
        if evicted and self.device.type != "cpu":
            devices.empty_cache(self.device)

    # ---- reporting, dtypes, OOM ------------------------------------------------------

    def stats(self) -> list[dict]:
        """The /system_stats "devices" list (COMPAT 1.6); bytes, index null for the CPU."""
        info = self.memory_info()
        return [
            {
                "name": devices.device_name(self.device),
                "type": self.device.type,
                "index": self.device.index,
                "vram_total": info.total,
                "vram_free": info.free,
                "torch_vram_total": info.torch_total,
                "torch_vram_free": info.torch_free,
            }
        ]

    @property
    def offload_device(self) -> torch.device:
        """Where offloaded weights live: the compute device itself in HIGH_VRAM."""
        return self.device if self.vram_state == VramState.HIGH_VRAM else devices.CPU

    def dtype_for(self, kind: ModelKind, device: torch.device | None = None) -> DtypeChoice:
        return devices.choose_dtype(kind, device or self.device_for(kind), self.options)

    def device_for(self, kind: ModelKind) -> torch.device:
        return devices.device_for(kind, self.device, self.options)

    def with_oom_retry(
        self,
        fn: Callable[[], T],
        fallbacks: Sequence[Callable[[], T]] = (),
        *,
        keep: Sequence[ManagedModel] = (),
        what: str = "this step",
    ) -> T:
        """Run `fn`; on out-of-memory offload every model but `keep` and try each cheaper
        fallback in turn (e.g. tiled VAE decode). Other errors propagate; when every
        attempt ran out of memory, a torch.OutOfMemoryError names `what`."""
        return retry_on_oom([fn, *fallbacks], lambda: self.release(keep), what)

    def release(self, keep: Sequence[ManagedModel] = ()) -> None:
        """After an out-of-memory error: offload every model except `keep` and return the
        allocator's cached blocks to the driver."""
        with self._lock:
            keep_ids = {id(m) for m in keep}
            for key, model in self._live():
                if key not in keep_ids:
                    log.info("offloading %s after running out of memory", type(model).__name__)
                    model.offload()
                    del self._entries[key]
            devices.empty_cache(self.device)

    def shrink(self, model: ManagedModel, fraction: float) -> int:
        """Reload `model` keeping `fraction` of its resident bytes on the device and
        streaming the rest (the OOM path's partial loading). Returns the new budget. Until
        `uncap(model)` (the end of the recovering operation) `ensure_loaded` keeps it so;
        after that it grows back when memory allows, so later jobs run normally."""
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"fraction must be in [0, 1), got {fraction}")
        with self._lock:
            entry = self._entry(model)
            resident = model.loaded_size() if entry is not None else 0
            budget = int(resident * fraction)
            model.load(self.device, budget)
            devices.empty_cache(self.device)
            log.info("reloaded %s with %d of %d bytes resident after running out of memory",
                     type(model).__name__, model.loaded_size(), model.model_size())
            self._entries[id(model)] = _Entry(weakref.ref(model), next(self._clock), budget, capped=True)
            return budget

    def uncap(self, model: ManagedModel) -> None:
        """Let `ensure_loaded` grow a shrunk model again."""
        with self._lock:
            entry = self._entry(model)
            if entry is not None:
                entry.capped = False
