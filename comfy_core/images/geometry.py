"""Size, crop, rotate, stitch and pad operations on IMAGE (`[B, H, W, C]`) and MASK
(`[B, H, W]`) batches, behind ImageCrop, ImageStitch, ResizeAndPadImage, ImageRotate,
ImageFlip, ImageScaleToTotalPixels, ImageScaleToMaxDimension and ResizeImageMaskNode.
Resizing goes through `resize.upscale` (ComfyUI's common_upscale rules).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from comfy_core.images.resize import upscale

ROTATIONS = ("none", "90 degrees", "180 degrees", "270 degrees")
FLIPS = ("x-axis: vertically", "y-axis: horizontally")
STITCH_DIRECTIONS = ("right", "down", "left", "up")
SPACING_COLORS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "red": (1.0, 0.0, 0.0),
                  "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


def resize(t: torch.Tensor, width: int, height: int, method: str, crop: str = "disabled"
           ) -> torch.Tensor:
    """An IMAGE or a MASK resized to width x height (a MASK passes as one channel)."""
    if t.ndim == 3:
        return upscale(t[:, None], width, height, method, crop)[:, 0]
    return upscale(t.movedim(-1, 1), width, height, method, crop).movedim(1, -1)


def size_of(t: torch.Tensor) -> tuple[int, int]:
    """(width, height) of an IMAGE or MASK batch."""
    return int(t.shape[2]), int(t.shape[1])


def crop(image: torch.Tensor, width: int, height: int, x: int, y: int) -> torch.Tensor:
    """ImageCrop: the origin is clamped inside the image; the region is cut at its edge."""
    x = min(x, image.shape[2] - 1)
    y = min(y, image.shape[1] - 1)
    return image[:, y:y + height, x:x + width, :]


def rotate(image: torch.Tensor, rotation: str) -> torch.Tensor:
    """ImageRotate: clockwise by 90, 180 or 270 degrees."""
    if rotation not in ROTATIONS:
        raise ValueError(f"rotation must be one of {ROTATIONS}, got {rotation!r}")
    return torch.rot90(image, k=ROTATIONS.index(rotation), dims=[2, 1])


def flip(image: torch.Tensor, method: str) -> torch.Tensor:
    """ImageFlip: "x-axis" flips rows (upside down), "y-axis" columns (mirror)."""
    if method not in FLIPS:
        raise ValueError(f"flip_method must be one of {FLIPS}, got {method!r}")
    return torch.flip(image, dims=[1 if method.startswith("x") else 2])


MEGAPIXEL = 1024 * 1024


def scale_to_total_pixels(t: torch.Tensor, total_pixels: float, method: str, steps: int = 1
                          ) -> torch.Tensor:
    """About `total_pixels` pixels, aspect kept, sides rounded to multiples of `steps`."""
    width, height = size_of(t)
    factor = math.sqrt(total_pixels / (width * height))
    return resize(t, round(width * factor / steps) * steps, round(height * factor / steps) * steps,
                  method)


def _fit_side(width: int, height: int, size: int, longer: bool) -> tuple[int, int]:
    """(width, height) with the longer (or shorter) side set to `size`, aspect kept."""
    if width == height:
        return size, size
    if (height > width) == longer:
        return round(width / height * size), size
    return size, round(height / width * size)


def scale_longer_side(t: torch.Tensor, size: int, method: str) -> torch.Tensor:
    """ImageScaleToMaxDimension / "scale longer dimension"."""
    return resize(t, *_fit_side(*size_of(t), size, longer=True), method)


def scale_shorter_side(t: torch.Tensor, size: int, method: str) -> torch.Tensor:
    """ResizeImageMaskNode's "scale shorter dimension"."""
    return resize(t, *_fit_side(*size_of(t), size, longer=False), method)


def scale_by(t: torch.Tensor, multiplier: float, method: str) -> torch.Tensor:
    width, height = size_of(t)
    return resize(t, round(width * multiplier), round(height * multiplier), method)


def scale_to(t: torch.Tensor, width: int, height: int, method: str, crop_mode: str = "disabled"
             ) -> torch.Tensor:
    """A 0 side follows the aspect ratio; both 0 returns the input."""
    if width == 0 and height == 0:
        return t
    old_w, old_h = size_of(t)
    if width == 0:
        width = max(1, round(old_w * height / old_h))
    elif height == 0:
        height = max(1, round(old_h * width / old_w))
    return resize(t, width, height, method, crop_mode)


def resize_and_pad(image: torch.Tensor, width: int, height: int, color: str, method: str
                   ) -> torch.Tensor:
    """ResizeAndPadImage: fit inside width x height (aspect kept, sides truncated), centred
    on white or black."""
    old_w, old_h = size_of(image)
    scale = min(width / old_w, height / old_h)
    new_w, new_h = int(old_w * scale), int(old_h * scale)
    resized = resize(image, new_w, new_h, method)
    out = torch.full((image.shape[0], height, width, image.shape[-1]),
                     0.0 if color == "black" else 1.0, dtype=image.dtype, device=image.device)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[:, top:top + new_h, left:left + new_w] = resized
    return out


def _repeat_last(t: torch.Tensor, batch: int) -> torch.Tensor:
    return t if t.shape[0] >= batch else torch.cat([t, t[-1:].repeat(batch - t.shape[0], 1, 1, 1)])


def _pad_centered(t: torch.Tensor, size: int, axis: int, value: float) -> torch.Tensor:
    """Pad `[B, H, W, C]` along axis 1 (H) or 2 (W) to `size`, centred."""
    missing = size - t.shape[axis]
    if missing <= 0:
        return t
    before, after = missing // 2, missing - missing // 2
    pads = (0, 0, 0, 0, before, after) if axis == 1 else (0, 0, before, after)
    return F.pad(t, pads, value=value)


def _spacer(reference: torch.Tensor, shape: tuple[int, ...], color: str) -> torch.Tensor:
    spacer = torch.zeros(shape, dtype=reference.dtype, device=reference.device)
    rgb = SPACING_COLORS[color]
    for i in range(min(3, shape[-1])):
        spacer[..., i] = rgb[i]
    if shape[-1] == 4:
        spacer[..., 3] = 1.0
    return spacer


def stitch(image1: torch.Tensor, image2: torch.Tensor | None, direction: str, match_size: bool,
           spacing: int, color: str) -> torch.Tensor:
    """ImageStitch: image2 joined to the right/left/below/above image1 (see module doc)."""
    if image2 is None:
        return image1
    if direction not in STITCH_DIRECTIONS:
        raise ValueError(f"direction must be one of {STITCH_DIRECTIONS}, got {direction!r}")
    batch = max(image1.shape[0], image2.shape[0])
    image1, image2 = _repeat_last(image1, batch), _repeat_last(image2, batch)
    horizontal = direction in ("left", "right")
    if match_size:
        (w1, h1), (w2, h2) = size_of(image1), size_of(image2)
        aspect = w2 / h2
        target = (int(h1 * aspect), h1) if horizontal else (w1, int(w1 / aspect))
        image2 = resize(image2, target[0], target[1], "lanczos")
    else:
        pad_value = 1.0 if color == "white" else 0.0
        axis = 1 if horizontal else 2
        size = max(image1.shape[axis], image2.shape[axis])
        image1, image2 = (_pad_centered(t, size, axis, pad_value) for t in (image1, image2))
    channels = max(image1.shape[-1], image2.shape[-1])
    image1, image2 = (F.pad(t, (0, channels - t.shape[-1]), value=1.0) for t in (image1, image2))
    parts = [image2, image1] if direction in ("left", "up") else [image1, image2]
    if spacing > 0:
        spacing += spacing % 2
        shape = ((batch, max(image1.shape[1], image2.shape[1]), spacing, channels) if horizontal
                 else (batch, spacing, max(image1.shape[2], image2.shape[2]), channels))
        parts.insert(1, _spacer(image1, shape, color))
    return torch.cat(parts, dim=2 if horizontal else 1)
