"""Layer streaming: run a module whose weights do not all fit on the compute device.

Layers (modules that own parameters or buffers directly) are split by a byte budget into
resident ones, moved to the device once, and streamed ones, whose weights stay in host
memory and are copied to the device by a forward pre-hook just for that layer's forward,
then dropped by a forward hook. Same idea as ComfyUI's low-VRAM mode and accelerate's
CPU offload hooks. With a `compute_dtype`, weights stored in another float dtype (e.g.
fp16 text encoders computed in fp32, COMPAT 10.3 "manual cast") are cast per forward the
same way, resident layers included; storage is never changed. Limitation: weights used outside their own module's forward (e.g.
`F.linear(x, self.child.weight)` in a parent) must end up resident; give a budget large
enough or keep such modules small enough to be planned resident.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterator, Literal

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

log = logging.getLogger(__name__)

Order = Literal["largest", "first"]
# Called with (qualified tensor name, tensor already on the device); returns the tensor
# the layer should use for this forward (e.g. cast to the compute dtype, LoRA-patched).
FetchFn = Callable[[str, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Layer:
    """One streaming unit: a module and the tensors it owns directly. A `shared` layer
    holds tensors several modules use (tied weights); it is always kept resident, since
    no single module's hooks could fetch it for the others."""

    name: str
    module: nn.Module
    tensors: tuple[tuple[str, bool], ...]  # (attribute name, is_parameter)
    nbytes: int
    shared: bool = False


def tensor_bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def module_bytes(module: nn.Module) -> int:
    """Bytes of every distinct parameter and buffer of `module`."""
    return sum(layer.nbytes for layer in find_layers(module))


def find_layers(module: nn.Module) -> list[Layer]:
    """Modules owning tensors directly, in module order; shared tensors counted once."""
    owners: dict[int, int] = {}
    for mod in module.modules():
        for _, tensor, _ in _own_tensors(mod):
            owners[id(tensor)] = owners.get(id(tensor), 0) + 1
    seen: set[int] = set()
    layers = []
    for name, mod in module.named_modules():
        own: dict[bool, list] = {False: [], True: []}  # shared? -> [(attr, is_param, bytes)]
        for attr, tensor, is_param in _own_tensors(mod):
            if id(tensor) not in seen:
                seen.add(id(tensor))
                own[owners[id(tensor)] > 1].append((attr, is_param, tensor_bytes(tensor)))
        for shared, items in own.items():
            if items:
                tensors = tuple((attr, is_param) for attr, is_param, _ in items)
                layers.append(Layer(name, mod, tensors, sum(n for *_, n in items), shared))
    return layers


def _own_tensors(mod: nn.Module) -> Iterator[tuple[str, torch.Tensor, bool]]:
    """(attribute, tensor, is_parameter) for the tensors `mod` holds itself."""
    for attr, p in mod._parameters.items():
        if p is not None:
            yield attr, p, True
    for attr, b in mod._buffers.items():
        if b is not None:
            yield attr, b, False


def plan_residency(
    layers: list[Layer], budget_bytes: int, order: Order = "largest"
) -> tuple[list[Layer], list[Layer]]:
    """Split layers into (resident, streamed) so resident bytes stay within the budget
    (shared layers are always resident, even beyond it).

    "largest" fills the budget with the biggest layers first (fewest bytes streamed per
    step relative to hook count); "first" keeps layers in module order. Both skip a layer
    that does not fit and keep trying smaller ones.
    """
    if order not in ("largest", "first"):
        raise ValueError(f"order must be 'largest' or 'first', got {order!r}")
    resident_ids = {id(l) for l in layers if l.shared}
    used = sum(l.nbytes for l in layers if l.shared)
    candidates = [l for l in layers if not l.shared]
    ranked = sorted(candidates, key=lambda l: -l.nbytes) if order == "largest" else candidates
    for layer in ranked:
        if used + layer.nbytes <= budget_bytes:
            resident_ids.add(id(layer))
            used += layer.nbytes
    resident = [l for l in layers if id(l) in resident_ids]
    streamed = [l for l in layers if id(l) not in resident_ids]
    return resident, streamed


def _get(layer: Layer, attr: str, is_param: bool) -> torch.Tensor:
    """The plain tensor behind a parameter (never the Parameter itself, whose .data we swap)."""
    if is_param:
        return layer.module._parameters[attr].data
    return layer.module._buffers[attr]


def _set(layer: Layer, attr: str, is_param: bool, value: torch.Tensor) -> None:
    """Parameters keep their object (so optimisers/state_dict refs stay valid): swap .data."""
    if is_param:
        layer.module._parameters[attr].data = value
    else:
        layer.module._buffers[attr] = value


@dataclass
class LayerStreaming:
    """A module with some layers resident on `device` and the rest streamed. `undo()`
    removes the hooks and returns every weight to `offload_device`."""

    device: torch.device
    offload_device: torch.device
    resident: list[Layer]
    streamed: list[Layer]
    _host: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict, repr=False)
    _handles: list[RemovableHandle] = field(default_factory=list, repr=False)

    @property
    def resident_bytes(self) -> int:
        return sum(l.nbytes for l in self.resident)

    @property
    def streamed_bytes(self) -> int:
        return sum(l.nbytes for l in self.streamed)

    @property
    def hooked(self) -> bool:
        """True when forwards run through hooks (streamed or per-forward cast layers)."""
        return bool(self._handles)

    def undo(self, offload: bool = True) -> None:
        """Remove hooks, put streamed weights back to their host copies and (with
        `offload`) move resident weights to the offload device. Safe to call twice.
        `offload=False` leaves resident weights where they are, for a re-plan that keeps
        most of them on the device."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for layer in self.streamed:
            for attr, is_param in layer.tensors:
                _set(layer, attr, is_param, self._host[(id(layer), attr)])
        self._host.clear()
        for layer in self.resident if offload else ():
            for attr, is_param in layer.tensors:
                _set(layer, attr, is_param, _get(layer, attr, is_param).to(self.offload_device))
        self.resident = []
        self.streamed = []


def stream_layers(
    module: nn.Module,
    device: torch.device | str,
    budget_bytes: int | None,
    *,
    order: Order = "largest",
    pin_memory: bool = False,
    on_fetch: FetchFn | None = None,
    offload_device: torch.device | str = "cpu",
    compute_dtype: torch.dtype | None = None,
) -> LayerStreaming:
    """Keep up to `budget_bytes` (None: all) of `module`'s layers on `device`; stream the rest.

    `pin_memory` pins streamed host copies (CUDA only) so fetches are non_blocking copies.
    `compute_dtype` casts floating weights stored in another dtype for each forward.
    `on_fetch` transforms each streamed tensor after it reaches the device (and is cast).
    For inference: weights fetched for a forward are dropped when that forward returns.
    """
    if budget_bytes is not None and budget_bytes < 0:
        raise ValueError(f"budget_bytes must be >= 0, got {budget_bytes}")
    layers = find_layers(module)
    budget = sum(l.nbytes for l in layers) if budget_bytes is None else budget_bytes
    resident, streamed = plan_residency(layers, budget, order)
    handle = LayerStreaming(torch.device(device), torch.device(offload_device), resident, streamed)
    pin = pin_memory and handle.device.type == "cuda" and handle.offload_device.type == "cpu"
    for layer in resident:
        for attr, is_param in layer.tensors:
            _set(layer, attr, is_param, _get(layer, attr, is_param).to(handle.device))
        if _needs_cast(layer, compute_dtype):
            _install_cast_hooks(handle, layer, compute_dtype)
    for layer in streamed:
        for attr, is_param in layer.tensors:
            host = _get(layer, attr, is_param).to(handle.offload_device)
            if pin and not host.is_pinned():
                host = host.pin_memory()
            handle._host[(id(layer), attr)] = host
            _set(layer, attr, is_param, host)
        _install_hooks(handle, layer, pin, on_fetch, compute_dtype)
    log.debug(
        "streaming %s: %d layers resident (%d bytes), %d streamed (%d bytes) on %s",
        type(module).__name__, len(resident), handle.resident_bytes,
        len(streamed), handle.streamed_bytes, handle.device,
    )
    return handle


def _cast_to(t: torch.Tensor, dtype: torch.dtype | None) -> torch.dtype:
    """The dtype `t` computes in: `dtype` for floating tensors, else its own."""
    return dtype if dtype is not None and t.is_floating_point() else t.dtype


def _needs_cast(layer: Layer, dtype: torch.dtype | None) -> bool:
    tensors = (_get(layer, attr, is_param) for attr, is_param in layer.tensors)
    return dtype is not None and any(_cast_to(t, dtype) != t.dtype for t in tensors)


def _install_cast_hooks(handle: LayerStreaming, layer: Layer, dtype: torch.dtype | None) -> None:
    """A resident layer stored in another dtype: cast copies for the forward, then drop them."""
    stash: dict[str, torch.Tensor] = {}

    def cast(module: nn.Module, args: tuple) -> None:
        for attr, is_param in layer.tensors:
            t = _get(layer, attr, is_param)
            stash[attr] = t
            _set(layer, attr, is_param, t.to(_cast_to(t, dtype)))

    def restore(module: nn.Module, args: tuple, output: object) -> None:
        for attr, is_param in layer.tensors:
            if attr in stash:
                _set(layer, attr, is_param, stash.pop(attr))

    handle._handles.append(layer.module.register_forward_pre_hook(cast))
    handle._handles.append(layer.module.register_forward_hook(restore, always_call=True))


def _install_hooks(
    handle: LayerStreaming, layer: Layer, pin: bool, on_fetch: FetchFn | None, dtype: torch.dtype | None
) -> None:
    host = handle._host
    key = id(layer)
    prefix = f"{layer.name}." if layer.name else ""

    def fetch(module: nn.Module, args: tuple) -> None:
        for attr, is_param in layer.tensors:
            stored = host[(key, attr)]
            t = stored.to(handle.device, _cast_to(stored, dtype), non_blocking=pin)
            if on_fetch is not None:
                t = on_fetch(prefix + attr, t)
            _set(layer, attr, is_param, t)

    def release(module: nn.Module, args: tuple, output: object) -> None:
        for attr, is_param in layer.tensors:
            _set(layer, attr, is_param, host[(key, attr)])

    handle._handles.append(layer.module.register_forward_pre_hook(fetch))
    # always_call: the fetched copy is dropped even when the forward raises (e.g. OOM).
    handle._handles.append(layer.module.register_forward_hook(release, always_call=True))
