"""Alpha compositing behind PorterDuffImageComposite, SplitImageWithAlpha and
JoinImageWithAlpha. ComfyUI passes alpha as a MASK, which is inverted (1 = transparent).

The twelve operators of Porter & Duff (1984) are `out = src * Fa + dst * Fb` on
premultiplied colour and alpha, with the factors below. ADD (plus, clamped) and the
separable modes DARKEN, LIGHTEN, MULTIPLY, SCREEN and OVERLAY use ComfyUI's own formulas on
premultiplied values, so results match its node.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from comfy_core.images.resize import upscale

T = torch.Tensor
# Porter-Duff factors (Fa, Fb) as functions of (source alpha, destination alpha).
_FACTORS: dict[str, tuple[Callable[[T, T], T | float], Callable[[T, T], T | float]]] = {
    "CLEAR": (lambda sa, da: 0.0, lambda sa, da: 0.0),
    "SRC": (lambda sa, da: 1.0, lambda sa, da: 0.0),
    "DST": (lambda sa, da: 0.0, lambda sa, da: 1.0),
    "SRC_OVER": (lambda sa, da: 1.0, lambda sa, da: 1 - sa),
    "DST_OVER": (lambda sa, da: 1 - da, lambda sa, da: 1.0),
    "SRC_IN": (lambda sa, da: da, lambda sa, da: 0.0),
    "DST_IN": (lambda sa, da: 0.0, lambda sa, da: sa),
    "SRC_OUT": (lambda sa, da: 1 - da, lambda sa, da: 0.0),
    "DST_OUT": (lambda sa, da: 0.0, lambda sa, da: 1 - sa),
    "SRC_ATOP": (lambda sa, da: da, lambda sa, da: 1 - sa),
    "DST_ATOP": (lambda sa, da: 1 - da, lambda sa, da: sa),
    "XOR": (lambda sa, da: 1 - da, lambda sa, da: 1 - sa),
}
PORTER_DUFF_MODES = ("ADD", "CLEAR", "DARKEN", "DST", "DST_ATOP", "DST_IN", "DST_OUT", "DST_OVER",
                     "LIGHTEN", "MULTIPLY", "OVERLAY", "SCREEN", "SRC", "SRC_ATOP", "SRC_IN",
                     "SRC_OUT", "SRC_OVER", "XOR")


def _union(sa: T, da: T) -> T:
    return sa + da - sa * da


def _blend_mode(mode: str, s: T, sa: T, d: T, da: T) -> tuple[T, T]:
    """(colour, alpha) of the non-Porter-Duff modes, premultiplied in and out."""
    if mode == "ADD":
        return torch.clamp(s + d, 0, 1), torch.clamp(sa + da, 0, 1)
    if mode in ("DARKEN", "LIGHTEN"):
        pick = torch.min if mode == "DARKEN" else torch.max
        return (1 - da) * s + (1 - sa) * d + pick(s, d), _union(sa, da)
    if mode == "MULTIPLY":
        return s * d, sa * da
    if mode == "SCREEN":
        return s + d - s * d, _union(sa, da)
    if mode == "OVERLAY":
        return torch.where(2 * d < da, 2 * s * d, sa * da - 2 * (da - s) * (sa - d)), _union(sa, da)
    raise ValueError(f"mode must be one of {PORTER_DUFF_MODES}, got {mode!r}")


def porter_duff(src: T, src_alpha: T, dst: T, dst_alpha: T, mode: str) -> tuple[T, T]:
    """Composite straight-alpha colour `[..., C]` with alphas `[..., 1]` (opacity, not MASK);
    returns straight colour and alpha."""
    s, d = src * src_alpha, dst * dst_alpha  # premultiply
    if mode in _FACTORS:
        fa, fb = (f(src_alpha, dst_alpha) for f in _FACTORS[mode])
        colour, alpha = s * fa + d * fb, src_alpha * fa + dst_alpha * fb
    else:
        colour, alpha = _blend_mode(mode, s, src_alpha, d, dst_alpha)
    alpha = alpha * torch.ones_like(dst_alpha)  # constant factors give scalars
    colour = colour * torch.ones_like(dst)
    straight = torch.where(alpha > 1e-5, colour / alpha, torch.zeros_like(colour))
    return straight.clamp(0, 1), alpha


def _fit(t: T, height: int, width: int) -> T:
    """`[H, W, C]` resized bicubic/center to `[height, width, C]` when it differs."""
    if t.shape[:2] == (height, width):
        return t
    return upscale(t.movedim(-1, 0)[None], width, height, "bicubic", "center")[0].movedim(0, -1)


def composite_batch(source: T, source_alpha: T, destination: T, destination_alpha: T,
                    mode: str) -> tuple[T, T]:
    """PorterDuffImageComposite: per pair of the shortest batch; alphas are MASKs (1 =
    transparent) and come back as one; source and its alpha follow the destination's size."""
    count = min(len(source), len(source_alpha), len(destination), len(destination_alpha))
    images, masks = [], []
    for i in range(count):
        dst = destination[i]
        if source[i].shape[-1] != dst.shape[-1]:
            raise ValueError(f"source has {source[i].shape[-1]} channels, destination "
                             f"{dst.shape[-1]}: they must match")
        h, w = dst.shape[:2]
        dst_alpha = _fit(1 - destination_alpha[i][..., None], h, w)
        src = _fit(source[i], h, w)
        src_alpha = _fit(1 - source_alpha[i][..., None], h, w)
        image, alpha = porter_duff(src, src_alpha, dst, dst_alpha, mode)
        images.append(image)
        masks.append(1 - alpha[..., 0])
    return torch.stack(images), torch.stack(masks)


def split_alpha(image: T) -> tuple[T, T]:
    """SplitImageWithAlpha: RGB and the inverted alpha as a MASK (opaque without alpha)."""
    alpha = image[..., 3] if image.shape[-1] > 3 else torch.ones_like(image[..., 0])
    return image[..., :3], 1.0 - alpha


def join_alpha(image: T, mask: T) -> T:
    """JoinImageWithAlpha: RGB plus `1 - mask` (bilinear to the image size) as alpha."""
    count = min(len(image), len(mask))
    mask = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
    alpha = 1.0 - F.interpolate(mask, size=image.shape[1:3], mode="bilinear")[:, 0]
    return torch.cat((image[:count, ..., :3], alpha[:count, ..., None]), dim=-1)
