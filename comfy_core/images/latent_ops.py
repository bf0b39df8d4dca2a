"""Arithmetic, slicing and batch tools on LATENT dicts (`{"samples": [B, C, (T,) h, w],
"noise_mask"?, "batch_index"?}`), and the two LATENT_OPERATIONs (tone map, sharpen).

Every function returns a new dict (a shallow copy) and never modifies its input tensors.
A second latent of another size is resized bilinearly (center crop) to the first and, for
arithmetic, repeated or cut to its batch size.
"""

from __future__ import annotations

from typing import Callable

import torch

from comfy_core.images.filters import correlate, sharpen_kernel
from comfy_core.images.masks import repeat_to_batch
from comfy_core.images.resize import upscale

LatentOperation = Callable[..., torch.Tensor]  # operation(latent=[B, C, h, w]) -> same shape
CONCAT_DIMS = ("x", "-x", "y", "-y", "t", "-t")
CUT_DIMS = ("x", "y", "t")
CUT_TO_BATCH_DIMS = ("t", "x", "y")
_AXIS_FROM_END = {"x": 1, "y": 2, "t": 3}


def reshape_to(target_shape: torch.Size, latent: torch.Tensor, repeat_batch: bool = True
               ) -> torch.Tensor:
    """`latent` resized (bilinear, center crop) to the target's spatial size, and repeated
    or cut to its batch when `repeat_batch`."""
    if latent.shape[1:] != target_shape[1:]:
        latent = upscale(latent, int(target_shape[-1]), int(target_shape[-2]), "bilinear", "center")
    return repeat_to_batch(latent, int(target_shape[0])) if repeat_batch else latent


def _with(latent: dict, samples: torch.Tensor) -> dict:
    return {**latent, "samples": samples}


def add(a: dict, b: dict) -> dict:
    return _with(a, a["samples"] + reshape_to(a["samples"].shape, b["samples"]))


def subtract(a: dict, b: dict) -> dict:
    return _with(a, a["samples"] - reshape_to(a["samples"].shape, b["samples"]))


def multiply(latent: dict, multiplier: float) -> dict:
    return _with(latent, latent["samples"] * multiplier)


def interpolate(a: dict, b: dict, ratio: float) -> dict:
    """LatentInterpolate: channel directions and per-position magnitudes are mixed apart:
    `normalize(ratio * â + (1 - ratio) * b̂) * (ratio * |a| + (1 - ratio) * |b|)`, norms
    over the channel axis (zero vectors stay zero). Norms are taken per batch item (ComfyUI
    divides by norms broadcast across the batch, which is only right for one item)."""
    s1 = a["samples"]
    s2 = reshape_to(s1.shape, b["samples"])
    m1, m2 = (torch.linalg.vector_norm(s, dim=1, keepdim=True) for s in (s1, s2))  # [B, 1, h, w]
    u1, u2 = torch.nan_to_num(s1 / m1), torch.nan_to_num(s2 / m2)
    mixed = u1 * ratio + u2 * (1.0 - ratio)
    direction = torch.nan_to_num(mixed / torch.linalg.vector_norm(mixed, dim=1, keepdim=True))
    return _with(a, direction * (m1 * ratio + m2 * (1.0 - ratio)))


def _axis(dim: str, ndim: int) -> int:
    return ndim - _AXIS_FROM_END[dim.lstrip("-")]


def concat(a: dict, b: dict, dim: str) -> dict:
    """LatentConcat along width (x), height (y) or time (t); "-" puts `b` first."""
    if dim not in CONCAT_DIMS:
        raise ValueError(f"dim must be one of {CONCAT_DIMS}, got {dim!r}")
    s1 = a["samples"]
    s2 = repeat_to_batch(b["samples"], s1.shape[0])
    parts = (s2, s1) if dim.startswith("-") else (s1, s2)
    return _with(a, torch.cat(parts, dim=-_AXIS_FROM_END[dim.lstrip("-")]))


def cut(latent: dict, dim: str, index: int, amount: int) -> dict:
    """LatentCut: `amount` cells from `index` (negative counts from the end), clamped."""
    s = latent["samples"]
    axis = _axis(dim, s.ndim)
    size = s.shape[axis]
    if index >= 0:
        index = min(index, size - 1)
        amount = min(size - index, amount)
    else:
        index = max(index, -size)
        amount = min(-index, amount)
    return _with(latent, torch.narrow(s, axis, index, amount))


def cut_to_batch(latent: dict, dim: str, slice_size: int) -> dict:
    """LatentCutToBatch: equal slices along an axis stacked into the batch (a remainder
    that does not fill a slice is dropped); unchanged when the axis is batch or channels."""
    s = latent["samples"]
    axis = _axis(dim, s.ndim)
    if axis < 2:
        return latent
    moved = s.movedim(axis, 1)
    if moved.shape[1] < slice_size:
        slice_size = moved.shape[1]
    elif moved.shape[1] % slice_size:
        moved = moved[:, :moved.shape[1] // slice_size * slice_size]
    stacked = moved.reshape([-1, slice_size] + list(moved.shape[2:]))
    return _with(latent, stacked.movedim(1, axis))


def _indices(latent: dict) -> list[int]:
    return list(latent.get("batch_index", range(latent["samples"].shape[0])))


def batch(latents: list[dict]) -> dict:
    """LatentBatch / BatchLatentsNode: one batch in the first latent's size; batch indices
    of the inputs (0..n-1 where absent) appended in order."""
    if not latents:
        raise ValueError("no latents to batch")
    first = latents[0]["samples"]
    samples = [reshape_to(first.shape, lat["samples"], repeat_batch=False) for lat in latents]
    return {**latents[0], "samples": torch.cat(samples, dim=0),
            "batch_index": [i for lat in latents for i in _indices(lat)]}


def seed_behavior(latent: dict, behavior: str) -> dict:
    """LatentBatchSeedBehavior: "random" drops batch_index (each item its own noise),
    "fixed" gives every item the first item's index (the same noise)."""
    out = dict(latent)
    if behavior == "random":
        out.pop("batch_index", None)
    elif behavior == "fixed":
        first = latent.get("batch_index", [0])[0]
        out["batch_index"] = [first] * latent["samples"].shape[0]
    else:
        raise ValueError(f"seed_behavior must be random or fixed, got {behavior!r}")
    return out


def apply(latent: dict, operation: LatentOperation) -> dict:
    """LatentApplyOperation."""
    return _with(latent, operation(latent=latent["samples"]))


def tonemap_reinhard(multiplier: float) -> LatentOperation:
    """Reinhard tone map of each position's channel-vector length: with `top = (mean + 5 std)
    * multiplier` of the lengths, a length L becomes `top * (L/top) / (L/top + 1)`."""
    def operation(latent: torch.Tensor, **_: object) -> torch.Tensor:
        length = (torch.linalg.vector_norm(latent, dim=1) + 1e-10)[:, None]  # [B, 1, h, w]
        direction = latent / length
        dims = list(range(1, length.ndim))
        mean = torch.mean(length, dim=dims, keepdim=True)
        std = torch.std(length, dim=dims, keepdim=True)
        top = (std * 5 + mean) * multiplier
        scaled = length / top
        return direction * (scaled / (scaled + 1.0) * top)
    return operation


def sharpen_operation(radius: int, sigma: float, alpha: float) -> LatentOperation:
    """Sharpen the unit channel vectors (ImageSharpen's kernel, mirrored border) and restore
    each position's length."""
    def operation(latent: torch.Tensor, **_: object) -> torch.Tensor:
        length = (torch.linalg.vector_norm(latent, dim=1) + 1e-6)[:, None]  # [B, 1, h, w]
        unit = latent / length
        return length * correlate(unit, sharpen_kernel(radius, sigma, alpha, latent.device), radius)
    return operation


def _rebatch_parts(latent: dict, offset: int) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """(samples, noise mask [B, 1, 8h, 8w] (ones when absent), batch indices) of one input."""
    samples = latent["samples"]
    b, h, w = samples.shape[0], samples.shape[-2], samples.shape[-1]
    mask = latent.get("noise_mask")
    if mask is None:
        mask = torch.ones((b, 1, h * 8, w * 8))
    mask = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).float()
    if mask.shape[-2:] != (h * 8, w * 8):
        mask = torch.nn.functional.interpolate(mask, size=(h * 8, w * 8), mode="bilinear")
    indices = list(latent.get("batch_index", range(offset, offset + b)))
    return samples, repeat_to_batch(mask, b), indices


def _emit(parts: tuple, out: list[dict]) -> None:
    samples, mask, indices = parts
    entry = {"samples": samples, "batch_index": indices}
    if not bool(torch.all(mask == 1.0)):
        entry["noise_mask"] = mask
    out.append(entry)


def rebatch(latents: list[dict], batch_size: int) -> list[dict]:
    """RebatchLatents: the items of a list of latent batches regrouped into batches of
    `batch_size`, in order; items of a different spatial size start a new batch. Each
    keeps its noise mask (dropped when all ones) and batch index (its position overall
    when it had none)."""
    out: list[dict] = []
    current: tuple | None = None
    offset = 0
    for latent in latents:
        parts = _rebatch_parts(latent, offset)
        offset += parts[0].shape[0]
        if current is not None and parts[0].shape[-2:] != current[0].shape[-2:]:
            _emit(current, out)
            current = None
        current = parts if current is None else (
            torch.cat((current[0], parts[0])), torch.cat((current[1], parts[1])),
            current[2] + parts[2])
        while current[0].shape[0] > batch_size:
            _emit(tuple(p[:batch_size] for p in current), out)
            current = tuple(p[batch_size:] for p in current)
    if current is not None:
        _emit(current, out)
    return out
