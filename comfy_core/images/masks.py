"""Mask and compositing operations behind the mask nodes (MASK is `[B, H, W]`, 1 = masked).

Morphology uses max-pooling over a 3x3 footprint (a cross when corners are tapered), which
equals grey dilation/erosion with edge-replicating borders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MASK_OPERATIONS = ("multiply", "add", "subtract", "and", "or", "xor")


def as_batch(mask: torch.Tensor) -> torch.Tensor:
    """Any `[..., H, W]` mask -> `[B, H, W]`."""
    return mask.reshape((-1, mask.shape[-2], mask.shape[-1]))


def _dilate_once(mask: torch.Tensor, tapered: bool) -> torch.Tensor:
    """One 3x3 grey dilation of `[B, H, W]`; `tapered` leaves the diagonal corners out."""
    x = mask[:, None]  # [B, 1, H, W]
    if not tapered:
        return F.max_pool2d(x, 3, stride=1, padding=1)[:, 0]
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")[:, 0]
    h, w = mask.shape[-2:]
    shifts = [padded[:, 1:h + 1, 1:w + 1], padded[:, 0:h, 1:w + 1], padded[:, 2:h + 2, 1:w + 1],
              padded[:, 1:h + 1, 0:w], padded[:, 1:h + 1, 2:w + 2]]
    return torch.stack(shifts).amax(dim=0)


def grow(mask: torch.Tensor, expand: int, tapered_corners: bool = True) -> torch.Tensor:
    """Dilate (expand > 0) or erode (expand < 0) by |expand| pixels."""
    out = as_batch(mask).float()
    for _ in range(abs(expand)):
        out = _dilate_once(out, tapered_corners) if expand > 0 else \
            -_dilate_once(-out, tapered_corners)
    return out


def feather(mask: torch.Tensor, left: int, top: int, right: int, bottom: int
            ) -> torch.Tensor:
    """Linear ramps of `left/top/right/bottom` pixels inwards from each edge."""
    out = as_batch(mask).clone()
    h, w = out.shape[-2:]
    left, right, top, bottom = min(left, w), min(right, w), min(top, h), min(bottom, h)
    for i in range(left):
        out[:, :, i] *= (i + 1.0) / left
    for i in range(right):
        out[:, :, -(i + 1)] *= (i + 1.0) / right
    for i in range(top):
        out[:, i, :] *= (i + 1.0) / top
    for i in range(bottom):
        out[:, -(i + 1), :] *= (i + 1.0) / bottom
    return out


def combine(destination: torch.Tensor, source: torch.Tensor, x: int, y: int,
            operation: str) -> torch.Tensor:
    """MaskComposite: apply `operation` where `source` (placed at x, y) overlaps; clamp 0..1."""
    if operation not in MASK_OPERATIONS:
        raise ValueError(f"operation must be one of {MASK_OPERATIONS}, got {operation!r}")
    out = as_batch(destination).clone()
    src = as_batch(source).to(out.device)
    bottom = min(y + src.shape[-2], out.shape[-2])
    right = min(x + src.shape[-1], out.shape[-1])
    dst = out[:, y:bottom, x:right]
    part = src[:, :bottom - y, :right - x]
    if operation == "multiply":
        result = dst * part
    elif operation == "add":
        result = dst + part
    elif operation == "subtract":
        result = dst - part
    else:
        logic = {"and": torch.logical_and, "or": torch.logical_or, "xor": torch.logical_xor}
        result = logic[operation](dst.round().bool(), part.round().bool()).float()
    out[:, y:bottom, x:right] = result
    return out.clamp(0.0, 1.0)


def repeat_to_batch(t: torch.Tensor, batch: int) -> torch.Tensor:
    """Cycle or cut `t` along dim 0 to exactly `batch` entries."""
    if t.shape[0] == batch:
        return t
    reps = -(-batch // t.shape[0])
    return t.repeat((reps,) + (1,) * (t.ndim - 1))[:batch]


def paste(destination: torch.Tensor, source: torch.Tensor, x: int, y: int,
          mask: torch.Tensor | None = None, multiplier: int = 1,
          resize_source: bool = False) -> torch.Tensor:
    """Composite `source` over `destination` (both `[B, C, H, W]`, modified in place).

    `x, y` are in units of `1/multiplier` cells (8 for latents addressed in pixels).
    """
    source = source.to(destination.device)
    if resize_source:
        source = F.interpolate(source, size=destination.shape[-2:], mode="bilinear")
    source = repeat_to_batch(source, destination.shape[0])
    x = max(-source.shape[-1] * multiplier, min(x, destination.shape[-1] * multiplier))
    y = max(-source.shape[-2] * multiplier, min(y, destination.shape[-2] * multiplier))
    left, top = x // multiplier, y // multiplier
    right, bottom = left + source.shape[-1], top + source.shape[-2]
    if mask is None:
        weight = torch.ones_like(source)
    else:
        weight = F.interpolate(as_batch(mask).to(destination.device)[:, None],
                               size=source.shape[-2:], mode="bilinear")
        weight = repeat_to_batch(weight, source.shape[0])
    visible_w = destination.shape[-1] - left + min(0, x)
    visible_h = destination.shape[-2] - top + min(0, y)
    weight = weight[..., :visible_h, :visible_w]
    blended = weight * source[..., :visible_h, :visible_w]
    blended = blended + (1.0 - weight) * destination[..., top:bottom, left:right]
    destination[..., top:bottom, left:right] = blended
    return destination


def inpaint_inputs(pixels: torch.Tensor, mask: torch.Tensor, grow_mask_by: int,
                   multiple: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """VAEEncodeForInpaint's preparation (COMPAT 7 notes).

    Crops `pixels` `[B, H, W, C]` (centered) to multiples of `multiple`, resizes `mask`
    bilinearly to the pixel size, greys out masked pixels (mask.round() == 1 -> 0.5) and
    returns them with the noise mask `[B, 1, H', W']`: the rounded mask dilated by a
    `grow_mask_by`-square ones kernel, clamped and rounded.
    """
    h, w = pixels.shape[1] // multiple * multiple, pixels.shape[2] // multiple * multiple
    mask = F.interpolate(mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])),
                         size=(pixels.shape[1], pixels.shape[2]), mode="bilinear")
    pixels = pixels.clone()
    if (pixels.shape[1], pixels.shape[2]) != (h, w):
        top, left = (pixels.shape[1] % multiple) // 2, (pixels.shape[2] % multiple) // 2
        pixels = pixels[:, top:top + h, left:left + w, :]
        mask = mask[:, :, top:top + h, left:left + w]
    if grow_mask_by == 0:
        grown = mask
    else:
        kernel = torch.ones((1, 1, grow_mask_by, grow_mask_by))
        padding = -(-(grow_mask_by - 1) // 2)  # ceil((g - 1) / 2)
        grown = torch.clamp(F.conv2d(mask.round(), kernel, padding=padding), 0, 1)
    keep = (1.0 - mask.round()).squeeze(1)[..., None]  # [B, H', W', 1]
    pixels[..., :3] = (pixels[..., :3] - 0.5) * keep + 0.5
    return pixels, grown[:, :, :h, :w].round()
