"""Weight patch arithmetic in ComfyUI's patch-tuple format (COMPAT-PLUGINS 3.9, 3.13).

A patcher stores, per state-dict key, a list of `(strength_patch, value, strength_model,
offset, function)` tuples. Applying them to a float32 copy of the weight, in order:

- `offset` `(dim, start, length)`: the rest of the step works on that slice only;
- `strength_model != 1`: the weight (slice) is scaled by it first;
- `value` is one of
  - a weight adapter (anything with `calculate_weight`, e.g. our LoRA / LyCORIS deltas),
  - a list `[(original, convert_fn), patch, ...]` from another model's `get_key_patches`
    (model merging): that model's patched weight, used as a diff,
  - `(t,)` or `("diff", (t,))`: weight += function(strength_patch · t) (skipped at strength 0,
    so `{k: (None,)}` with strength_patch 0 only scales),
  - `("set", (t,))`: weight = t,
  - `("model_as_lora", (target, ...))`: weight += function(strength_patch · (target − original)).

Shape mismatches are logged and skipped, never raised: a plugin's merge of a slightly
different model must not stop the run.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import torch

log = logging.getLogger(__name__)

PatchTuple = tuple  # (strength_patch, value, strength_model, offset, function)


class WeightBackup(NamedTuple):
    """A patched tensor's original (ComfyUI's `backup` entries)."""

    weight: torch.Tensor
    inplace_update: bool


def identity(t: torch.Tensor, **_: Any) -> torch.Tensor:
    return t


class WeightAdapter:
    """Base of weight deltas that add to one tensor (LoRA, LoHa, LoKr, full diff).

    Subclasses define `delta(weight)`: the float32 change at strength 1 with the weight's
    shape and device. `calculate_weight` is the patch protocol on top of it."""

    def delta(self, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def calculate_weight(self, weight: torch.Tensor, key: str, strength: float, strength_model: float,
                         offset: Any, function: Callable[..., torch.Tensor] | None,
                         intermediate_dtype: torch.dtype = torch.float32,
                         original_weights: Any = None) -> torch.Tensor:
        """weight += function(strength · delta), in place; returns the weight. (The patch
        loop has already scaled by `strength_model` and narrowed to `offset`.)"""
        function = function or identity
        weight += function(strength * self.delta(weight)).to(weight.dtype)
        return weight


def _patch_kind(value: Any) -> tuple[str, Any]:
    """("adapter" | "diff" | "set" | "model_as_lora" | other, payload)."""
    if hasattr(value, "calculate_weight"):
        return "adapter", value
    if len(value) == 1:
        return "diff", value
    return value[0], value[1]


def _merged(value: list, key: str, weight: torch.Tensor, intermediate_dtype: torch.dtype) -> tuple:
    """A `get_key_patches` list -> `(patched weight,)`, to be added as a diff."""
    head = value[0]
    if isinstance(head, tuple):
        original, convert = head[0], head[1] or identity
    else:
        original, convert = head, identity
    base = convert(original.to(weight.device, intermediate_dtype, copy=True), inplace=True)
    return (calculate_weight(value[1:], base, key, intermediate_dtype),)


def _add_diff(weight: torch.Tensor, diff: torch.Tensor, strength: float, function: Callable, key: str) -> None:
    if diff.shape != weight.shape:
        log.warning("weight patch for %s skipped: shape %s does not match the weight's %s",
                    key, tuple(diff.shape), tuple(weight.shape))
        return
    weight += function(strength * diff.to(weight.device, weight.dtype))


def _apply_one(weight: torch.Tensor, patch: PatchTuple, key: str, intermediate_dtype: torch.dtype,
               original_weights: Mapping[str, Any] | None) -> None:
    """One patch tuple, in place on `weight` (already narrowed to its offset)."""
    strength, value, strength_model = patch[0], patch[1], patch[2]
    function = (patch[4] if len(patch) > 4 else None) or identity
    if strength_model != 1.0:
        weight *= strength_model
    if isinstance(value, list):
        value = _merged(value, key, weight, intermediate_dtype)
    kind, payload = _patch_kind(value)
    if kind == "adapter":
        offset = patch[3] if len(patch) > 3 else None
        out = payload.calculate_weight(weight, key, strength, strength_model, offset, function,
                                       intermediate_dtype, original_weights)
        if out is not weight and out is not None:
            weight.copy_(out)
    elif kind == "diff":
        if strength != 0.0:
            _add_diff(weight, payload[0], strength, function, key)
    elif kind == "set":
        weight.copy_(payload[0])
    elif kind == "model_as_lora":
        if original_weights is None or key not in original_weights:
            log.warning("model_as_lora patch for %s skipped: no original weight given", key)
            return
        original = original_weights[key][0][0].to(weight.device, intermediate_dtype)
        _add_diff(weight, payload[0].to(weight.device, intermediate_dtype) - original, strength, function, key)
    else:
        log.warning("weight patch for %s skipped: unknown patch type %r", key, kind)


def calculate_weight(patches: Sequence[PatchTuple], weight: torch.Tensor, key: str,
                     intermediate_dtype: torch.dtype = torch.float32,
                     original_weights: Mapping[str, Any] | None = None) -> torch.Tensor:
    """`weight` (float, modified in place) with `patches` applied in order; returns it."""
    for patch in patches:
        offset = patch[3] if len(patch) > 3 else None
        target = weight if offset is None else weight.narrow(offset[0], offset[1], offset[2])
        _apply_one(target, patch, key, intermediate_dtype, original_weights)
    return weight


def get_attr(obj: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        obj = getattr(obj, name)
    return obj


def set_attr(obj: Any, dotted: str, value: Any) -> Any:
    """Set a dotted attribute and return what was there. Deletes first, so a module can
    replace a plain object and the other way round (torch refuses that on a plain set)."""
    *path, name = dotted.split(".")
    for part in path:
        obj = getattr(obj, part)
    previous = getattr(obj, name)
    try:
        delattr(obj, name)
    except AttributeError:  # a class attribute (e.g. a method): shadow it on the instance
        pass
    setattr(obj, name, value)
    return previous
