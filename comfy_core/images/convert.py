"""Tensor <-> PIL conversion with ComfyUI's exact rounding rules.

IMAGE tensors are float32 `[B, H, W, C]` in 0..1. Saving truncates (`np.clip(255*x)` then
`astype(uint8)`), it does not round: images saved here and by ComfyUI are byte-identical.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def image_to_uint8(image: torch.Tensor) -> np.ndarray:
    """One image `[H, W, C]` (0..1) -> uint8 array `[H, W, C]`, truncating like ComfyUI."""
    if image.ndim != 3:
        raise ValueError(f"expected one image [H, W, C], got shape {tuple(image.shape)}")
    scaled = 255.0 * image.detach().to("cpu", torch.float32).numpy()
    return np.clip(scaled, 0, 255).astype(np.uint8)


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """One image `[H, W, C]` with C in {1, 3, 4} -> PIL image (L, RGB or RGBA)."""
    pixels = image_to_uint8(image)
    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    elif pixels.shape[-1] not in (3, 4):
        raise ValueError(f"cannot convert an image with {pixels.shape[-1]} channels to PIL")
    return Image.fromarray(pixels)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> float32 `[1, H, W, 3]` in 0..1 (converted to RGB first)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(rgb)[None]


def channel_to_tensor(image: Image.Image, band: str) -> torch.Tensor:
    """One band of a PIL image ("R", "G", "B" or "A") -> float32 `[H, W]` in 0..1."""
    return torch.from_numpy(np.asarray(image.getchannel(band), dtype=np.float32) / 255.0)
