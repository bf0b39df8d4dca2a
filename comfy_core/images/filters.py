"""Per-pixel and neighbourhood filters behind the post-processing nodes (ImageBlend,
ImageBlur, ImageSharpen, Morphology, ImageRGBToYUV / ImageYUVToRGB). IMAGE is float32
`[B, H, W, C]` in 0..1.

Blur and sharpen use ComfyUI's Gaussian: a `(2r+1)^2` kernel over coordinates spread evenly
on [-1, 1] (so `sigma` is relative to the radius, not in pixels), applied after mirroring
the border (`d c b | a b c d`). Morphology uses a flat square footprint; pixels outside the
image are ignored (geodesic border). YUV is BT.601 with the chroma offset by 0.5, in the
constants ComfyUI's kornia-based nodes use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from comfy_core.images.resize import upscale

BLEND_MODES = ("normal", "multiply", "screen", "overlay", "soft_light", "difference")
MORPHOLOGY_OPERATIONS = ("erode", "dilate", "open", "close", "gradient", "bottom_hat", "top_hat")
# Y, then (Cb, Cr) as scaled differences B - Y and R - Y, and the inverse.
_LUMA = (0.299, 0.587, 0.114)
_CB_SCALE, _CR_SCALE = 0.564, 0.713
_R_FROM_CR, _G_FROM_CR, _G_FROM_CB, _B_FROM_CB = 1.403, 0.714, 0.344, 1.773


def match_channels(image1: torch.Tensor, image2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Give `image2` the channel count of `image1`: extra channels dropped, a missing alpha
    added as opaque."""
    if image2.shape[-1] > image1.shape[-1]:
        return image1, image2[..., :image1.shape[-1]]
    if image2.shape[-1] < image1.shape[-1]:
        return image1, F.pad(image2, (0, 1), value=1.0)
    return image1, image2


def _soft_light_g(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.25, ((16 * x - 12) * x + 4) * x, torch.sqrt(x))


def blend(image1: torch.Tensor, image2: torch.Tensor, factor: float, mode: str) -> torch.Tensor:
    """ImageBlend: `image1 * (1 - factor) + mode(image1, image2) * factor`, clamped; image2
    is resized bicubic/center to image1 first."""
    image1, image2 = match_channels(image1, image2.to(image1.device))
    if image1.shape != image2.shape:
        image2 = upscale(image2.movedim(-1, 1), image1.shape[2], image1.shape[1], "bicubic",
                         "center").movedim(1, -1)
    modes = {
        "normal": lambda a, b: b,
        "multiply": lambda a, b: a * b,
        "screen": lambda a, b: 1 - (1 - a) * (1 - b),
        "overlay": lambda a, b: torch.where(a <= 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b)),
        "soft_light": lambda a, b: torch.where(b <= 0.5, a - (1 - 2 * b) * a * (1 - a),
                                               a + (2 * b - 1) * (_soft_light_g(a) - a)),
        "difference": lambda a, b: a - b,
    }
    if mode not in modes:
        raise ValueError(f"blend_mode must be one of {BLEND_MODES}, got {mode!r}")
    mixed = modes[mode](image1, image2)
    return torch.clamp(image1 * (1 - factor) + mixed * factor, 0, 1)


def gaussian_kernel(size: int, sigma: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """`[size, size]` Gaussian over a grid spread on [-1, 1], normalised to sum 1."""
    axis = torch.linspace(-1, 1, size, device=device)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    g = torch.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    return g / g.sum()


def correlate(x: torch.Tensor, kernel: torch.Tensor, radius: int) -> torch.Tensor:
    """Correlate every channel of `[B, C, H, W]` with a `(2r+1)^2` kernel over a mirrored
    border (`d c b | a b c d`); same size out."""
    height, width = x.shape[-2], x.shape[-1]
    if radius >= height or radius >= width:
        raise ValueError(f"a radius of {radius} needs an image larger than {radius} pixels on "
                         f"each side, got {width}x{height}")
    channels = x.shape[1]
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    weight = kernel.to(x.dtype).expand(channels, 1, *kernel.shape)
    return F.conv2d(padded, weight, groups=channels)


def _filter(image: torch.Tensor, kernel: torch.Tensor, radius: int) -> torch.Tensor:
    """`correlate` for IMAGE `[B, H, W, C]`."""
    return correlate(image.movedim(-1, 1), kernel, radius).movedim(1, -1)


def blur(image: torch.Tensor, radius: int, sigma: float) -> torch.Tensor:
    """ImageBlur: Gaussian blur of radius `radius` (radius 0 returns the image)."""
    if radius == 0:
        return image
    return _filter(image, gaussian_kernel(2 * radius + 1, sigma, image.device), radius)


def sharpen_kernel(radius: int, sigma: float, alpha: float, device: torch.device | str = "cpu"
                   ) -> torch.Tensor:
    """Negative Gaussian scaled by 10 * alpha with the centre raised so the kernel sums to 1."""
    kernel = gaussian_kernel(2 * radius + 1, sigma, device) * -(alpha * 10)
    kernel[radius, radius] = kernel[radius, radius] - kernel.sum() + 1.0
    return kernel


def sharpen(image: torch.Tensor, radius: int, sigma: float, alpha: float) -> torch.Tensor:
    """ImageSharpen: correlate with `sharpen_kernel`, clamp to 0..1."""
    if radius == 0:
        return image
    kernel = sharpen_kernel(radius, sigma, alpha, image.device)
    return _filter(image, kernel, radius).clamp(0, 1)


def _dilate(x: torch.Tensor, size: int) -> torch.Tensor:
    """Grey dilation of `[B, C, H, W]` by a flat `size` square; outside pixels never win."""
    before, after = size // 2, size - 1 - size // 2
    padded = F.pad(x, (before, after, before, after), value=float("-inf"))
    return F.max_pool2d(padded, size, stride=1)


def _erode(x: torch.Tensor, size: int) -> torch.Tensor:
    return -_dilate(-x, size)


def morphology(image: torch.Tensor, operation: str, kernel_size: int) -> torch.Tensor:
    """Morphology: erode, dilate, open, close, gradient, top-hat or bottom-hat per channel."""
    x = image.movedim(-1, 1)
    ops = {
        "erode": lambda: _erode(x, kernel_size),
        "dilate": lambda: _dilate(x, kernel_size),
        "open": lambda: _dilate(_erode(x, kernel_size), kernel_size),
        "close": lambda: _erode(_dilate(x, kernel_size), kernel_size),
        "gradient": lambda: _dilate(x, kernel_size) - _erode(x, kernel_size),
        "top_hat": lambda: x - _dilate(_erode(x, kernel_size), kernel_size),
        "bottom_hat": lambda: _erode(_dilate(x, kernel_size), kernel_size) - x,
    }
    if operation not in ops:
        raise ValueError(f"operation must be one of {MORPHOLOGY_OPERATIONS}, got {operation!r}")
    return ops[operation]().movedim(1, -1)


def rgb_to_yuv(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ImageRGBToYUV: Y, U (Cb) and V (Cr) of `[B, H, W, 3+]`, each as a grey `[B, H, W, 3]`."""
    rgb = image[..., :3]
    r, g, b = rgb.unbind(-1)
    y = _LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b
    u = (b - y) * _CB_SCALE + 0.5
    v = (r - y) * _CR_SCALE + 0.5
    return tuple(c[..., None].expand_as(rgb) for c in (y, u, v))  # type: ignore[return-value]


def yuv_to_rgb(y: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """ImageYUVToRGB: each input's first three channels averaged to one plane, then RGB."""
    luma, cb, cr = (t[..., :3].mean(-1) for t in (y, u, v))
    cb, cr = cb - 0.5, cr - 0.5
    r = luma + _R_FROM_CR * cr
    g = luma - _G_FROM_CR * cr - _G_FROM_CB * cb
    b = luma + _B_FROM_CB * cb
    return torch.stack((r, g, b), dim=-1)
