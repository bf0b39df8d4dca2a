"""Weights of one module as the memory manager sees them: placement, budgeted (streamed)
loading, compute-dtype casting, and the patch state of whichever patcher is in place.

Every patcher over a module (a model and its clones) shares one `ManagedWeights`, kept on
the module itself (`weights_of`), so a patcher built anew from `patcher.model` (as
`clone()` does through its class) finds it. One patcher's `PatchState` is in place at a
time: its weight patches applied in place to the stored tensors, its object patches set,
its injections injected. Switching to another state undoes all of it first, weights bit
for bit from backups of just the patched tensors, so a model never exists twice in memory.

Placement is `comfy_core.memory.streaming`: layers that do not fit the budget stay on the
offload device and are copied to the compute device per layer at forward time (COMPAT 10.3
"partial loading"), and fp16/bf16-stored weights are cast per layer to a wider compute
dtype ("manual cast"). Patches touch the stored tensors, so streamed layers fetch patched
weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from comfy_core.memory.streaming import LayerStreaming, module_bytes, stream_layers
from comfy_core.models.patch_math import WeightBackup, calculate_weight, set_attr

ATTRIBUTE = "_managed_weights"


@dataclass(frozen=True, eq=False)
class PatchState:
    """What one patcher puts into the shared module while it is in place."""

    weight_patches: Mapping[str, Sequence[tuple]]  # state-dict key -> patch tuples (patch_math)
    weights_id: Any  # the patcher's patches_uuid: equal ids, equal weight patches
    object_patches: Mapping[str, Any] = field(default_factory=dict)  # dotted attribute -> object
    injections: Sequence[Any] = ()  # PatcherInjection
    owner: Any = None  # the patcher (handed to injections)
    # A plugin subclass's own `patch_weight_to_device(key, device_to)` / `unpatch_model(device_to,
    # unpatch_weights)` (GGUF's patcher keeps patches on quantized tensors); None: ours.
    patch_key_fn: Any = None
    unpatch_fn: Any = None

    def same_as(self, other: "PatchState | None") -> bool:
        if other is None or self.weights_id != other.weights_id:
            return False
        if self.object_patches.keys() != other.object_patches.keys():
            return False
        if any(self.object_patches[k] is not other.object_patches[k] for k in self.object_patches):
            return False
        return len(self.injections) == len(other.injections) and all(
            a is b for a, b in zip(self.injections, other.injections))


@dataclass(eq=False)
class ManagedWeights:
    """Shared by every patcher of a module: the module, where it is, what is patched in."""

    module: nn.Module
    offload_device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    compute_dtype: torch.dtype | None = None
    device: torch.device = field(init=False)
    loaded_bytes: int = field(default=0, init=False)
    applied: PatchState | None = field(default=None, init=False)
    backups: dict[str, WeightBackup] = field(default_factory=dict, init=False)
    object_backups: dict[str, Any] = field(default_factory=dict, init=False)
    _streaming: LayerStreaming | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.offload_device = torch.device(self.offload_device)
        self.device = self.offload_device

    def model_size(self) -> int:
        return module_bytes(self.module)

    @property
    def hooked(self) -> bool:
        """True while forwards go through streaming or casting hooks (not compilable)."""
        return self._streaming is not None and self._streaming.hooked

    def storage_dtype(self) -> torch.dtype:
        first = next(self.module.parameters(), None)
        return torch.float32 if first is None else first.dtype

    def load(self, device: torch.device, budget_bytes: int | None, state: PatchState) -> None:
        """Place weights on `device` (up to `budget_bytes`), with `state` in place."""
        device = torch.device(device)
        self._stop_streaming(offload=False)
        changed = not state.same_as(self.applied)
        if changed:
            self.remove_state()
        self._streaming = stream_layers(
            self.module, device, budget_bytes, offload_device=self.offload_device,
            compute_dtype=self.compute_dtype, pin_memory=device.type == "cuda",
        )
        self.loaded_bytes = self._streaming.resident_bytes
        self._set_device(device)
        if changed:
            self.put_state(state)

    def offload(self) -> None:
        """Move everything back to the offload device (the patch state stays in place)."""
        self._stop_streaming(offload=True)
        self.module.to(self.offload_device)
        self._set_device(self.offload_device)
        self.loaded_bytes = 0

    def _set_device(self, device: torch.device) -> None:
        self.device = device
        try:
            self.module.device = device  # read by plugins (ComfyUI's BaseModel.device)
        except AttributeError:  # a read-only `device` property of the module's class
            pass

    def _stop_streaming(self, offload: bool) -> None:
        if self._streaming is not None:
            self._streaming.undo(offload=offload)
            self._streaming = None

    def original(self, key: str) -> torch.Tensor:
        """The unpatched tensor of a state-dict key (its backup while patched)."""
        backup = self.backups.get(key)
        return backup.weight if backup is not None else self._tensor(key)

    def _tensor(self, key: str) -> torch.Tensor:
        try:
            return self.module.get_parameter(key)
        except AttributeError:
            return self.module.get_buffer(key)

    def remove_state(self) -> None:
        """Undo the state in place: eject injections, restore objects, then the original
        tensors (exact copies)."""
        state, self.applied = self.applied, None
        if state is not None:
            for injection in state.injections:
                injection.eject(state.owner)
            if state.unpatch_fn is not None:  # the plugin's clean-up, which re-enters here
                state.unpatch_fn(None, True)
        for name, original in self.object_backups.items():
            set_attr(self.module, name, original)
        self.object_backups.clear()
        with torch.no_grad():
            for key, backup in self.backups.items():
                self._tensor(key).data.copy_(backup.weight)
        self.backups.clear()

    def put_state(self, state: PatchState) -> None:
        """Apply `state` (nothing else may be in place): W' = patched W, computed in float32
        and stored in W's dtype; objects set; injections injected."""
        with torch.no_grad():
            for key, patches in state.weight_patches.items():
                if state.patch_key_fn is not None:
                    state.patch_key_fn(key, self.device)
                else:
                    self.patch_key(key, patches)
        for name, obj in state.object_patches.items():
            self.object_backups[name] = set_attr(self.module, name, obj)
        for injection in state.injections:
            injection.inject(state.owner)
        self.applied = state

    def patch_key(self, key: str, patches: Sequence[tuple]) -> None:
        """Apply `patches` to one tensor in place, backing up the original first."""
        tensor = self._tensor(key)
        if key not in self.backups:
            self.backups[key] = WeightBackup(tensor.detach().to(self.offload_device, copy=True), True)
        w = calculate_weight(patches, self.backups[key].weight.to(tensor.device, torch.float32, copy=True), key)
        with torch.no_grad():
            tensor.data.copy_(w.to(tensor.dtype))


def weights_of(module: nn.Module, offload_device: torch.device | str | None = None) -> ManagedWeights:
    """The module's ManagedWeights, created (resting on `offload_device`, default CPU) on
    first use."""
    found = module.__dict__.get(ATTRIBUTE)
    if found is None:
        found = ManagedWeights(module, torch.device(offload_device or "cpu"))
        module.__dict__[ATTRIBUTE] = found
    return found
