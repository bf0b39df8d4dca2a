"""Canny edge detection (Canny 1986) with the conventions of kornia's `filters.canny`, which
ComfyUI's Canny node calls, so ControlNet hints match:

1. RGB -> gray with BT.601 weights (0.299, 0.587, 0.114).
2. Gaussian blur, 5x5 separable, sigma 1, reflected borders.
3. Unnormalised Sobel gradients (replicated borders); magnitude sqrt(gx² + gy² + eps).
4. Non-maximum suppression along the gradient direction rounded to 45°: a pixel is kept if
   it is larger than both neighbours along that direction, or equal to the one to its
   right (direction 0) or below (direction 2); outside the image the magnitude is that of
   a flat pixel, sqrt(eps), and a pixel no larger than that is never kept.
5. Thresholds (strict): weak above `low`, strong above `high`, in the units of that
   unnormalised magnitude (a unit step edge in a 0..1 image reaches about 2.6).
6. Hysteresis: weak pixels 8-connected (through other weak pixels) to a strong one become
   edges; the rest are dropped. Edges are 0 or 1.
The result equals kornia 0.9's bit for bit on contiguous input. ComfyUI hands kornia a
channels-last view of the IMAGE, whose convolutions round differently in the last bit;
where neighbouring magnitudes tie exactly (flat drawn shapes) that can flip edge pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

GRAY_WEIGHTS = (0.299, 0.587, 0.114)
SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))
# (dy, dx) of the neighbour in direction k (k·45° from +x towards +y, rows grow downwards).
DIRECTIONS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))


def to_gray(image: torch.Tensor) -> torch.Tensor:
    """[B, 3, H, W] -> [B, 1, H, W] (BT.601 luma); one channel passes through."""
    if image.shape[1] == 1:
        return image
    r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    return torch.addcmul(torch.addcmul(r * GRAY_WEIGHTS[0], g, torch.tensor(GRAY_WEIGHTS[1], dtype=image.dtype)),
                         b, torch.tensor(GRAY_WEIGHTS[2], dtype=image.dtype))


def gaussian_kernel1d(size: int, sigma: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised samples of exp(-x²/2σ²) at the integer offsets of an odd window."""
    x = torch.arange(size, dtype=dtype) - size // 2
    weights = torch.exp(-(x * x) / (2.0 * sigma * sigma))
    return weights / weights.sum()


def gaussian_blur(gray: torch.Tensor, size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    """Separable blur of [B, 1, H, W]: along rows, then columns, reflected borders."""
    k = gaussian_kernel1d(size, sigma, gray.dtype).to(gray.device)
    r = size // 2
    out = F.conv2d(F.pad(gray, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, size))
    return F.conv2d(F.pad(out, (0, 0, r, r), mode="reflect"), k.view(1, 1, size, 1))


def sobel(gray: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gx, gy) of [B, 1, H, W], unnormalised 3x3 Sobel with replicated borders."""
    kx = torch.tensor(SOBEL_X, dtype=gray.dtype, device=gray.device)
    kernels = torch.stack([kx, kx.t()]).unsqueeze(1)  # [2, 1, 3, 3]
    g = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), kernels)
    return g[:, 0:1], g[:, 1:2]


def _neighbours(padded: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """[B, 1, 8, H, W]: the magnitude of each pixel's neighbour in every direction."""
    return torch.stack([padded[..., 1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w] for dy, dx in DIRECTIONS], 2)


def suppress_non_maxima(gx: torch.Tensor, gy: torch.Tensor, eps: float) -> torch.Tensor:
    """Gradient magnitude [B, 1, H, W] where it is a maximum along the gradient, else 0."""
    h, w = gx.shape[-2:]
    padded = torch.sqrt(F.pad(gx, (1, 1, 1, 1)) ** 2 + F.pad(gy, (1, 1, 1, 1)) ** 2 + eps)
    magnitude = padded[..., 1:-1, 1:-1]
    direction = (torch.atan2(gy, gx).nan_to_num() * (4 / math.pi)).round().long() % 8  # [B, 1, H, W]
    around = _neighbours(padded, h, w)
    keep = magnitude > 0
    for side in (direction, (direction + 4) % 8):  # the neighbour ahead and the one behind
        neighbour = torch.gather(around, 2, side.unsqueeze(2)).squeeze(2)
        tie_ok = (side == 0) | (side == 2)  # the right or lower neighbour may be equal
        keep &= (magnitude > neighbour) | (tie_ok & (magnitude == neighbour))
    keep &= magnitude > padded[..., :1, :1]  # never a flat pixel (kept out by the rule too)
    return magnitude * keep


def hysteresis(magnitude: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """0/1 edges: pixels above `high`, grown through 8-connected pixels above `low`."""
    weak = magnitude > low
    edges = magnitude > high
    while True:
        grown = (F.max_pool2d(edges.to(magnitude.dtype), 3, stride=1, padding=1) > 0) & weak
        grown |= edges
        if torch.equal(grown, edges):
            return edges.to(magnitude.dtype)
        edges = grown


def canny(image: torch.Tensor, low: float, high: float, kernel_size: int = 5, sigma: float = 1.0,
          eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """`image` [B, 1 or 3 (or 4: alpha ignored), H, W] -> (suppressed magnitude, edges),
    both [B, 1, H, W] float32."""
    if not 0 < low <= high:
        raise ValueError(f"Canny thresholds need 0 < low <= high, got low={low}, high={high}")
    if image.ndim != 4 or image.shape[1] not in (1, 3, 4):
        raise ValueError(f"Canny expects [B, 1|3, H, W] pixels, got shape {tuple(image.shape)}")
    # Contiguous first: a channels-last view (an IMAGE's movedim) convolves with another
    # summation order, and the last-bit differences flip pixels where magnitudes tie.
    gray = to_gray((image[:, :3] if image.shape[1] == 4 else image).float().contiguous())
    gx, gy = sobel(gaussian_blur(gray, kernel_size, sigma))
    magnitude = suppress_non_maxima(gx, gy, eps)
    return magnitude, hysteresis(magnitude, low, high)
