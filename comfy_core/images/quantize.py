"""ImageQuantize: reduce each image to at most N colours with Pillow's median-cut palette,
mapped without dithering, with Floyd-Steinberg error diffusion, or with ordered (Bayer)
dithering.

Bayer dithering adds a tiled threshold matrix to the 8-bit pixels before mapping to the
palette without diffusion. The `n x n` matrix (n a power of two) is the classic recursive
index matrix normalised to `(index + 0.5) / n^2 - 0.5`, scaled by the palette's spacing
`2 * 256 / colours`, plus 0.5.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from comfy_core.images.convert import image_to_uint8

DITHER_MODES = ("none", "floyd-steinberg", "bayer-2", "bayer-4", "bayer-8", "bayer-16")


def bayer_thresholds(order: int) -> np.ndarray:
    """`[order, order]` thresholds in (-0.5, 0.5): `(index + 0.5) / order^2 - 0.5`."""
    if order < 1 or order & (order - 1):
        raise ValueError(f"Bayer order must be a power of two, got {order}")
    index = np.zeros((1, 1), dtype=np.int64)
    while index.shape[0] < order:
        index = np.block([[4 * index, 4 * index + 2], [4 * index + 3, 4 * index + 1]])
    return (index + 0.5) / (order * order) - 0.5


def _bayer(pixels: np.ndarray, palette: Image.Image, order: int) -> Image.Image:
    colours = len(palette.getpalette()) // 3
    spread = 2 * 256 / colours
    thresholds = spread * bayer_thresholds(order) + 0.5
    h, w = pixels.shape[:2]
    tiled = np.tile(thresholds, (-(-h // order), -(-w // order)))[:h, :w, None]
    shifted = np.clip((pixels + tiled).astype(np.float32), 0, 255).astype(np.uint8)
    return Image.fromarray(shifted).quantize(palette=palette, dither=Image.Dither.NONE)


def quantize_one(image: torch.Tensor, colors: int, dither: str) -> torch.Tensor:
    """One RGB image `[H, W, 3]` -> the same with at most `colors` colours."""
    if dither not in DITHER_MODES:
        raise ValueError(f"dither must be one of {DITHER_MODES}, got {dither!r}")
    pixels = image_to_uint8(image[..., :3])
    pil = Image.fromarray(pixels, mode="RGB")
    palette = pil.quantize(colors=colors)  # the palette source; mapping is done separately
    if dither.startswith("bayer"):
        mapped = _bayer(pixels, palette, int(dither.split("-")[1]))
    else:
        method = Image.Dither.FLOYDSTEINBERG if dither == "floyd-steinberg" else Image.Dither.NONE
        mapped = pil.quantize(palette=palette, dither=method)
    return torch.from_numpy(np.asarray(mapped.convert("RGB"), dtype=np.float32) / 255.0)


def quantize(images: torch.Tensor, colors: int, dither: str) -> torch.Tensor:
    """ImageQuantize over a batch `[B, H, W, 3]`."""
    out = torch.zeros_like(images[..., :3])
    for b, image in enumerate(images):
        out[b] = quantize_one(image, colors, dither).to(out)
    return out
