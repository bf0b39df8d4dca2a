"""Weights of one module as the memory manager sees them: placement, budgeted (streamed)
loading, compute-dtype casting and reversible weight patches.

Patches are applied in place when a handle loads and undone bit for bit from backups of
just the patched tensors, so a model never exists twice in memory. Layers that do not fit
the budget stay on the offload device and are copied to the compute device per layer at
forward time by forward pre-hooks (COMPAT 10.3 "partial loading"); the same hooks cast
fp16/bf16-stored weights to a wider compute dtype ("manual cast").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


class WeightDelta(Protocol):
    """Something that adds to one weight, e.g. a LoRA pair (up, down, alpha)."""

    def delta(self, weight: torch.Tensor) -> torch.Tensor:
        """float32 delta with `weight`'s shape and device, at strength 1."""
        ...


@dataclass(frozen=True, eq=False)
class PatchSet:
    """Deltas for named parameters, applied at one strength; compared by identity."""

    deltas: Mapping[str, WeightDelta]
    strength: float = 1.0


def _direct_params(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    return [(n, p) for n, p in module._parameters.items() if p is not None]


def _cast_hooks(module: nn.Module, device: torch.device, dtype: torch.dtype | None) -> list[RemovableHandle]:
    """Swap `module`'s own parameters for copies on `device` (in `dtype`) for one forward."""
    stash: dict[str, torch.Tensor] = {}

    def pre(mod: nn.Module, args: object) -> None:
        for name, p in _direct_params(mod):
            stash[name] = p
            target = dtype if (dtype is not None and p.is_floating_point()) else p.dtype
            mod._parameters[name] = p.detach().to(device=device, dtype=target, non_blocking=True)

    def post(mod: nn.Module, args: object, out: object) -> None:
        for name, p in stash.items():
            mod._parameters[name] = p
        stash.clear()

    return [module.register_forward_pre_hook(pre), module.register_forward_hook(post, always_call=True)]


@dataclass
class ManagedWeights:
    """Shared by every clone of a handle: the module, where it is, what is patched in."""

    module: nn.Module
    offload_device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    compute_dtype: torch.dtype | None = None
    device: torch.device = field(init=False)
    loaded_bytes: int = field(default=0, init=False)
    _applied: tuple[PatchSet, ...] = field(default=(), init=False)
    _backups: dict[str, torch.Tensor] = field(default_factory=dict, init=False)
    _hooks: list[RemovableHandle] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.device = self.offload_device

    def model_size(self) -> int:
        tensors = list(self.module.parameters()) + list(self.module.buffers())
        return sum(t.numel() * t.element_size() for t in tensors)

    def storage_dtype(self) -> torch.dtype:
        return next(self.module.parameters()).dtype

    def load(self, device: torch.device, budget_bytes: int | None, patches: Sequence[PatchSet]) -> None:
        """Place weights on `device` (up to `budget_bytes`), then make `patches` the applied set."""
        device = torch.device(device)
        self._clear_hooks()
        patches = tuple(patches)
        same = len(patches) == len(self._applied) and all(a is b for a, b in zip(patches, self._applied))
        if not same:
            self._restore()
        self.loaded_bytes = self._place(device, budget_bytes)
        self.device = device
        if not same:
            self._apply(patches)

    def offload(self) -> None:
        """Move everything back to the offload device (patches stay applied)."""
        self._clear_hooks()
        self._place(self.offload_device, None)
        self.device = self.offload_device
        self.loaded_bytes = 0

    def _place(self, device: torch.device, budget: int | None) -> int:
        """Move whole layers while they fit the budget; hook the rest to stream. Returns bytes placed."""
        used = 0
        for mod in self.module.modules():
            for name, buf in list(mod._buffers.items()):
                if buf is not None:
                    mod._buffers[name] = buf.to(device)
            params = _direct_params(mod)
            if not params:
                continue
            size = sum(p.numel() * p.element_size() for _, p in params)
            resident = budget is None or used + size <= budget
            target = device if resident else self.offload_device
            for _, p in params:
                p.data = p.data.to(target)
            if resident:
                used += size
            needs_cast = self.compute_dtype is not None and any(
                p.is_floating_point() and p.dtype != self.compute_dtype for _, p in params
            )
            if not resident or needs_cast:
                self._hooks += _cast_hooks(mod, device, self.compute_dtype)
        return used

    def _clear_hooks(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()

    def _restore(self) -> None:
        """Put back the original tensors saved before patching (exact copies)."""
        with torch.no_grad():
            for key, original in self._backups.items():
                self.module.get_parameter(key).data.copy_(original)
        self._backups.clear()
        self._applied = ()

    def _apply(self, patches: tuple[PatchSet, ...]) -> None:
        """W' = W + sum(strength * delta), computed in float32, stored in W's dtype."""
        by_key: dict[str, list[tuple[float, WeightDelta]]] = {}
        for ps in patches:
            for key, d in ps.deltas.items():
                by_key.setdefault(key, []).append((ps.strength, d))
        with torch.no_grad():
            for key, entries in by_key.items():
                param = self.module.get_parameter(key)
                self._backups[key] = param.detach().to(self.offload_device, copy=True)
                w = param.detach().float()
                for strength, d in entries:
                    w = w + strength * d.delta(w)
                param.data.copy_(w.to(param.dtype))
        self._applied = patches
