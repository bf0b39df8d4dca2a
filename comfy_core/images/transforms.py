"""Whole-image operations behind the image nodes; IMAGE is float32 `[B, H, W, C]` in 0..1."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from comfy_core.images.resize import upscale


def solid_image(width: int, height: int, batch_size: int, color: int) -> torch.Tensor:
    """`[B, H, W, 3]` filled with the 0xRRGGBB `color` (each channel byte / 255)."""
    rgb = [((color >> shift) & 0xFF) / 0xFF for shift in (16, 8, 0)]
    return torch.tensor(rgb, dtype=torch.float32).expand(batch_size, height, width, 3).clone()


def invert(image: torch.Tensor) -> torch.Tensor:
    """`1 - x` on every channel (alpha included, as in ComfyUI 0.8)."""
    return 1.0 - image


def scale_to(image: torch.Tensor, width: int, height: int, method: str, crop: str
             ) -> torch.Tensor:
    """ImageScale: resize to width x height; a 0 side keeps the aspect ratio; 0x0 = as is."""
    if width == 0 and height == 0:
        return image
    h, w = image.shape[1], image.shape[2]
    if width == 0:
        width = max(1, round(w * height / h))
    elif height == 0:
        height = max(1, round(h * width / w))
    return upscale(image.movedim(-1, 1), width, height, method, crop).movedim(1, -1)


def scale_by(image: torch.Tensor, factor: float, method: str) -> torch.Tensor:
    """ImageScaleBy: both sides times `factor`, rounded."""
    width, height = round(image.shape[2] * factor), round(image.shape[1] * factor)
    return upscale(image.movedim(-1, 1), width, height, method).movedim(1, -1)


def batch_pair(image1: torch.Tensor, image2: torch.Tensor) -> torch.Tensor:
    """ImageBatch: append `image2` (alpha-padded, resized bilinear/center to `image1`)."""
    if image1.shape[-1] != image2.shape[-1]:
        if image1.shape[-1] > image2.shape[-1]:
            image2 = F.pad(image2, (0, 1), value=1.0)
        else:
            image1 = F.pad(image1, (0, 1), value=1.0)
    if image1.shape[1:] != image2.shape[1:]:
        image2 = upscale(image2.movedim(-1, 1), image1.shape[2], image1.shape[1], "bilinear",
                         "center").movedim(1, -1)
    return torch.cat((image1, image2), dim=0)


def _feather_weights(h: int, w: int, sides: tuple[int, int, int, int], feathering: int
                     ) -> torch.Tensor:
    """`[h, w]` mask for the original area: ((f - d) / f)^2 within `f` pixels of a padded
    side, where d is the distance to the nearest padded side (unpadded sides don't count)."""
    left, top, right, bottom = sides
    rows = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    cols = torch.arange(w, dtype=torch.float32)[None, :].expand(h, w)
    far_h, far_w = torch.full_like(rows, h), torch.full_like(cols, w)
    dist = torch.stack([rows if top else far_h, (h - rows) if bottom else far_h,
                        cols if left else far_w, (w - cols) if right else far_w]).amin(0)
    weight = ((feathering - dist) / feathering) ** 2
    return torch.where(dist < feathering, weight, torch.zeros_like(weight))


def pad_for_outpaint(image: torch.Tensor, left: int, top: int, right: int, bottom: int,
                     feathering: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Grey (0.5) border around `image` and a MASK `[1, H', W']` (1 = new area)."""
    b, h, w, c = image.shape
    out = torch.full((b, h + top + bottom, w + left + right, c), 0.5, dtype=torch.float32)
    out[:, top:top + h, left:left + w, :] = image
    mask = torch.ones((h + top + bottom, w + left + right), dtype=torch.float32)
    inner = torch.zeros((h, w), dtype=torch.float32)
    if feathering > 0 and feathering * 2 < h and feathering * 2 < w:
        inner = _feather_weights(h, w, (left, top, right, bottom), feathering)
    mask[top:top + h, left:left + w] = inner
    return out, mask[None]
