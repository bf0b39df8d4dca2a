"""Spatial operations on LATENT dicts (`{"samples": [B, C, h, w], "noise_mask"?,
"batch_index"?}`); positions and sizes arrive in pixels and are divided by 8.

Every function returns a new dict (a shallow copy) and never modifies its input tensors.
"""

from __future__ import annotations

import torch

from comfy_core.images.masks import repeat_to_batch
from comfy_core.images.resize import upscale

LATENT_MIN_SIDE = 64  # LatentUpscale never goes below 64 pixels per side


def empty(width: int, height: int, batch_size: int, channels: int = 4) -> dict:
    """Zeros `[B, C, height//8, width//8]` float32 on the CPU."""
    return {"samples": torch.zeros([batch_size, channels, height // 8, width // 8])}


def upscale_to(latent: dict, method: str, width: int, height: int, crop: str) -> dict:
    """LatentUpscale: sizes in pixels; a 0 side keeps the aspect; both 0 = unchanged."""
    if width == 0 and height == 0:
        return latent
    h, w = latent["samples"].shape[-2:]
    if width == 0:
        height = max(LATENT_MIN_SIDE, height)
        width = max(LATENT_MIN_SIDE, round(w * height / h))
    elif height == 0:
        width = max(LATENT_MIN_SIDE, width)
        height = max(LATENT_MIN_SIDE, round(h * width / w))
    else:
        width, height = max(LATENT_MIN_SIDE, width), max(LATENT_MIN_SIDE, height)
    return {**latent, "samples": upscale(latent["samples"], width // 8, height // 8, method,
                                         crop)}


def upscale_by(latent: dict, method: str, factor: float) -> dict:
    """LatentUpscaleBy: both latent sides times `factor`, rounded."""
    h, w = latent["samples"].shape[-2:]
    return {**latent, "samples": upscale(latent["samples"], round(w * factor),
                                         round(h * factor), method)}


def _feather_weights(part: torch.Tensor, x: int, y: int, feather: int, to_hw: tuple[int, int]
                     ) -> torch.Tensor:
    """Weights of the pasted block: linear ramps of `feather` cells on every side that does
    not touch the destination border."""
    weight = torch.ones_like(part)
    h, w = part.shape[-2:]
    for t in range(feather):
        rate = (t + 1) / feather
        if y != 0:
            weight[..., t, :] *= rate
        if y + h < to_hw[0]:
            weight[..., h - 1 - t, :] *= rate
        if x != 0:
            weight[..., :, t] *= rate
        if x + w < to_hw[1]:
            weight[..., :, w - 1 - t] *= rate
    return weight


def composite(samples_to: dict, samples_from: dict, x: int, y: int, feather: int = 0) -> dict:
    """LatentComposite: paste `samples_from` at pixel (x, y), optionally feathered."""
    x, y, feather = x // 8, y // 8, feather // 8
    out = samples_to["samples"].clone()
    to_hw = out.shape[-2:]
    part = samples_from["samples"][..., :to_hw[0] - y, :to_hw[1] - x]
    region = (..., slice(y, y + part.shape[-2]), slice(x, x + part.shape[-1]))
    if feather == 0:
        out[region] = part
    else:
        weight = _feather_weights(part, x, y, feather, tuple(to_hw))
        out[region] = part * weight + out[region] * (1.0 - weight)
    return {**samples_to, "samples": out}


def blend(samples1: dict, samples2: dict, factor: float) -> dict:
    """LatentBlend: `s1 * factor + s2 * (1 - factor)`; s2 resized bicubic/center to s1."""
    a, b = samples1["samples"], samples2["samples"]
    if a.shape != b.shape:
        b = upscale(b, a.shape[3], a.shape[2], "bicubic", "center")
    return {**samples1, "samples": a * factor + b * (1 - factor)}


def crop(latent: dict, width: int, height: int, x: int, y: int) -> dict:
    """LatentCrop: the origin is clamped so at least 8 latent cells (64 px) remain."""
    s = latent["samples"]
    x, y = min(x // 8, s.shape[3] - 8), min(y // 8, s.shape[2] - 8)
    return {**latent, "samples": s[:, :, y:y + height // 8, x:x + width // 8]}


def rotate(latent: dict, quarter_turns: int) -> dict:
    """LatentRotate: clockwise by `quarter_turns` x 90 degrees."""
    return {**latent, "samples": torch.rot90(latent["samples"], k=quarter_turns, dims=[3, 2])}


def flip(latent: dict, vertical: bool) -> dict:
    """LatentFlip: vertical flips rows (x-axis), otherwise columns (y-axis)."""
    return {**latent, "samples": torch.flip(latent["samples"], dims=[2 if vertical else 3])}


def from_batch(latent: dict, batch_index: int, length: int) -> dict:
    """LatentFromBatch: a clamped slice; keeps the noise mask and records `batch_index`."""
    s = latent["samples"]
    start = min(s.shape[0] - 1, batch_index)
    length = min(s.shape[0] - start, length)
    out = {**latent, "samples": s[start:start + length].clone()}
    if "noise_mask" in latent:
        mask = latent["noise_mask"]
        if mask.shape[0] == 1:
            out["noise_mask"] = mask.clone()
        else:
            out["noise_mask"] = repeat_to_batch(mask, s.shape[0])[start:start + length].clone()
    if "batch_index" in latent:
        out["batch_index"] = latent["batch_index"][start:start + length]
    else:
        out["batch_index"] = list(range(start, start + length))
    return out


def repeat(latent: dict, amount: int) -> dict:
    """RepeatLatentBatch: the batch `amount` times; batch indices continue past the max."""
    s = latent["samples"]
    out = {**latent, "samples": s.repeat((amount,) + (1,) * (s.ndim - 1))}
    mask = latent.get("noise_mask")
    if mask is not None and mask.shape[0] > 1:
        out["noise_mask"] = mask.repeat((amount,) + (1,) * (mask.ndim - 1))
    if "batch_index" in latent:
        idx = latent["batch_index"]
        offset = max(idx) - min(idx) + 1
        out["batch_index"] = idx + [i + n * offset for n in range(1, amount) for i in idx]
    return out


def set_noise_mask(latent: dict, mask: torch.Tensor) -> dict:
    """SetLatentNoiseMask: store the MASK as `[B, 1, H, W]`."""
    return {**latent, "noise_mask": mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))}
