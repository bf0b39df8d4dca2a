"""Resizing shared by ImageScale*, LatentUpscale*, ImageBatch and LatentBlend.

All functions take channels-first `[B, C, H, W]` tensors (IMAGE nodes move the channel axis
first). Modes are `torch.nn.functional.interpolate` modes (antialias off, default
align_corners) plus `lanczos` (PIL per image, an 8-bit round trip) and `bislerp`
(spherical interpolation of each pixel's channel vector, linear in its norm).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from comfy_core.images.convert import image_to_uint8

IMAGE_UPSCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "lanczos")
LATENT_UPSCALE_METHODS = ("nearest-exact", "bilinear", "area", "bicubic", "bislerp")
CROP_METHODS = ("disabled", "center")


def center_crop_to_aspect(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Crop `[..., H, W]` symmetrically to the aspect ratio of `width x height`."""
    old_h, old_w = samples.shape[-2], samples.shape[-1]
    old_aspect, new_aspect = old_w / old_h, width / height
    x = y = 0
    if old_aspect > new_aspect:
        x = round((old_w - old_w * (new_aspect / old_aspect)) / 2)
    elif old_aspect < new_aspect:
        y = round((old_h - old_h * (old_aspect / new_aspect)) / 2)
    return samples.narrow(-2, y, old_h - 2 * y).narrow(-1, x, old_w - 2 * x)


def upscale(samples: torch.Tensor, width: int, height: int, method: str,
            crop: str = "disabled") -> torch.Tensor:
    """Resize `[B, C, H, W]` to `[B, C, height, width]`, optionally center-cropping first."""
    if crop not in CROP_METHODS:
        raise ValueError(f"crop must be one of {CROP_METHODS}, got {crop!r}")
    if crop == "center":
        samples = center_crop_to_aspect(samples, width, height)
    if method == "bislerp":
        return bislerp(samples, width, height)
    if method == "lanczos":
        return lanczos(samples, width, height)
    if method not in IMAGE_UPSCALE_METHODS + LATENT_UPSCALE_METHODS:
        raise ValueError(f"unknown upscale method {method!r}")
    return F.interpolate(samples, size=(height, width), mode=method)


def lanczos(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """PIL Lanczos per image; values pass through uint8 (truncated) like ComfyUI."""
    out = []
    for image in samples:  # [C, H, W]
        pil = Image.fromarray(_squeeze_gray(image_to_uint8(image.movedim(0, -1))))
        resized = pil.resize((width, height), resample=Image.Resampling.LANCZOS)
        arr = np.asarray(resized, dtype=np.float32) / 255.0
        if arr.ndim == 2:
            arr = arr[..., None]
        out.append(torch.from_numpy(arr).movedim(-1, 0))
    return torch.stack(out).to(samples.device, samples.dtype)


def _squeeze_gray(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Slerp rows of `a`, `b` `[N, C]` by `t` `[N, 1]`; the norm is interpolated linearly."""
    a_norm = a.norm(dim=-1, keepdim=True)
    b_norm = b.norm(dim=-1, keepdim=True)
    a_unit = torch.where(a_norm == 0.0, torch.zeros_like(a), a / a_norm)
    b_unit = torch.where(b_norm == 0.0, torch.zeros_like(b), b / b_norm)
    dot = (a_unit * b_unit).sum(1)
    omega = torch.acos(dot)
    sin_omega = torch.sin(omega)
    t1 = t.squeeze(1)
    out = (torch.sin((1.0 - t1) * omega) / sin_omega).unsqueeze(1) * a_unit
    out = out + (torch.sin(t1 * omega) / sin_omega).unsqueeze(1) * b_unit
    out = out * (a_norm * (1.0 - t) + b_norm * t).expand(-1, a.shape[-1])
    same = dot > 1 - 1e-5  # (nearly) parallel: keep the first vector
    opposite = dot < 1e-5 - 1  # (nearly) opposite: plain lerp
    out[same] = a[same]
    out[opposite] = (a * (1.0 - t) + b * t)[opposite]
    return out


def _linear_taps(old: int, new: int, device: torch.device
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each of `new` outputs: (weight of the right tap, left index, right index).

    The source positions come from bilinear interpolation of an index ramp, so they carry
    exactly the float rounding of `interpolate(mode="bilinear")`.
    """
    ramp = torch.arange(old, dtype=torch.float32, device=device).reshape(1, 1, 1, -1)
    pos = F.interpolate(ramp, size=(1, new), mode="bilinear").reshape(-1)
    right_ramp = ramp + 1
    right_ramp[..., -1] -= 1  # the last pixel has no right neighbour
    right = F.interpolate(right_ramp, size=(1, new), mode="bilinear").reshape(-1)
    return pos - pos.floor(), pos.to(torch.int64), right.to(torch.int64)


def _slerp_axis(x: torch.Tensor, new: int, axis: int) -> torch.Tensor:
    """Slerp-resample `[N, C, H, W]` along axis -1 (width) or -2 (height) to `new`."""
    n, c = x.shape[:2]
    t, left, right = _linear_taps(x.shape[axis], new, x.device)
    view: Callable[[torch.Tensor], torch.Tensor]
    if axis == -1:
        view = lambda v: v.reshape(1, 1, 1, -1).expand(n, -1, x.shape[2], -1)  # noqa: E731
    else:
        view = lambda v: v.reshape(1, 1, -1, 1).expand(n, -1, -1, x.shape[3])  # noqa: E731
    a = x.gather(axis, view(left).expand(-1, c, -1, -1)).movedim(1, -1)  # [N, h, w, C]
    b = x.gather(axis, view(right).expand(-1, c, -1, -1)).movedim(1, -1)
    out_shape = a.shape
    weights = view(t).movedim(1, -1).reshape(-1, 1)
    mixed = _slerp(a.reshape(-1, c), b.reshape(-1, c), weights)
    return mixed.reshape(out_shape).movedim(-1, 1)


def bislerp(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Separable slerp resize of `[B, C, H, W]`: first along width, then along height."""
    dtype = samples.dtype
    out = _slerp_axis(samples.float(), width, -1)
    out = _slerp_axis(out, height, -2)
    return out.to(dtype)
