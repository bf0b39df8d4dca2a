"""Weights of one module as the memory manager sees them: placement, budgeted (streamed)
loading, compute-dtype casting and reversible weight patches.

Patches are applied in place when a handle loads and undone bit for bit from backups of
just the patched tensors, so a model never exists twice in memory. Placement is
`comfy_core.memory.streaming`: layers that do not fit the budget stay on the offload device
and are copied to the compute device per layer at forward time (COMPAT 10.3 "partial
loading"), and fp16/bf16-stored weights are cast per layer to a wider compute dtype
("manual cast"). Patches touch the stored tensors, so streamed layers fetch patched weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

import torch
from torch import nn

from comfy_core.memory.streaming import LayerStreaming, module_bytes, stream_layers


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
    _streaming: LayerStreaming | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.device = self.offload_device

    def model_size(self) -> int:
        return module_bytes(self.module)

    @property
    def hooked(self) -> bool:
        """True while forwards go through streaming or casting hooks (not compilable)."""
        return self._streaming is not None and self._streaming.hooked

    def storage_dtype(self) -> torch.dtype:
        return next(self.module.parameters()).dtype

    def load(self, device: torch.device, budget_bytes: int | None, patches: Sequence[PatchSet]) -> None:
        """Place weights on `device` (up to `budget_bytes`), then make `patches` the applied set."""
        device = torch.device(device)
        self._stop_streaming(offload=False)
        patches = tuple(patches)
        same = len(patches) == len(self._applied) and all(a is b for a, b in zip(patches, self._applied))
        if not same:
            self._restore()
        self._streaming = stream_layers(
            self.module, device, budget_bytes, offload_device=self.offload_device,
            compute_dtype=self.compute_dtype, pin_memory=device.type == "cuda",
        )
        self.loaded_bytes = self._streaming.resident_bytes
        self.device = device
        if not same:
            self._apply(patches)

    def offload(self) -> None:
        """Move everything back to the offload device (patches stay applied)."""
        self._stop_streaming(offload=True)
        self.module.to(self.offload_device)
        self.device = self.offload_device
        self.loaded_bytes = 0

    def _stop_streaming(self, offload: bool) -> None:
        if self._streaming is not None:
            self._streaming.undo(offload=offload)
            self._streaming = None

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
