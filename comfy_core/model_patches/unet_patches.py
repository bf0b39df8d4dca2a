"""Patches that change the UNet's inner features, as the objects put into
`transformer_options["patches"]` (COMPAT-PLUGINS 3.10): FreeU and FreeU v2 (output block
patch), Kohya's Deep Shrink (input + output block patches) and HyperTile (attn1 patch +
attn1 output patch).

Patch objects that draw random choices keep a counter that starts anew each sampling run:
the guider calls `to(device)` on this run's patch objects, and `to` returns a fresh copy,
so the same workflow gives the same image every time. Per-call state between an attn1
patch and its output patch travels in the `extra_options` dict the block hands both.
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import torch

from comfy_core.images import resize

log = logging.getLogger(__name__)


# ---- FreeU (Si et al. 2023, "FreeU: Free Lunch in Diffusion U-Net") ---------------------


def fourier_filter(x: torch.Tensor, threshold: int, scale: float) -> torch.Tensor:
    """Scale the centred 2·threshold square of x's 2-D spectrum by `scale` (float32 FFT)."""
    freq = torch.fft.fftshift(torch.fft.fftn(x.float(), dim=(-2, -1)), dim=(-2, -1))
    h, w = freq.shape[-2:]
    mask = torch.ones(freq.shape, device=x.device)
    mask[..., h // 2 - threshold: h // 2 + threshold, w // 2 - threshold: w // 2 + threshold] = scale
    out = torch.fft.ifftn(torch.fft.ifftshift(freq * mask, dim=(-2, -1)), dim=(-2, -1)).real
    return out.to(x.dtype)


def _fourier_anywhere(x: torch.Tensor, scale: float) -> torch.Tensor:
    """fourier_filter on x's device, or on the CPU where that device has no FFT."""
    try:
        return fourier_filter(x, threshold=1, scale=scale)
    except (RuntimeError, TypeError) as exc:
        log.warning("FreeU: no FFT on %s (%s); filtering on the CPU", x.device, exc)
        return fourier_filter(x.cpu(), threshold=1, scale=scale).to(x.device)


def backbone_weight(h: torch.Tensor, b: float) -> torch.Tensor:
    """FreeU v2's structure-aware factor: 1 + (b−1)·(mean over channels, min-max normalised
    per sample) [B, 1, H, W]."""
    mean = h.mean(1, keepdim=True)
    flat = mean.reshape(mean.shape[0], -1)
    lo, hi = flat.min(dim=-1).values[:, None, None, None], flat.max(dim=-1).values[:, None, None, None]
    return (b - 1) * (mean - lo) / (hi - lo) + 1


@dataclass(frozen=True)
class FreeU:
    """output_block_patch: for decoder features with 4·mc channels (b1, s1) or 2·mc (b2, s2),
    the first half of the backbone channels times b (v2: the structure-aware factor) and
    the skip features' low frequencies times s. Blocks are chosen by channel count, as the
    FreeU authors' SD code does."""

    model_channels: int
    b1: float
    b2: float
    s1: float
    s2: float
    v2: bool = False

    def scales(self, channels: int) -> tuple[float, float] | None:
        return {self.model_channels * 4: (self.b1, self.s1), self.model_channels * 2: (self.b2, self.s2)}.get(channels)

    def __call__(self, h: torch.Tensor, hsp: torch.Tensor, transformer_options: dict) -> tuple[torch.Tensor, torch.Tensor]:
        found = self.scales(int(h.shape[1]))
        if found is None:
            return h, hsp
        b, s = found
        half = h.shape[1] // 2
        factor = backbone_weight(h, b) if self.v2 else b
        h = torch.cat([h[:, :half] * factor, h[:, half:]], dim=1)
        return h, _fourier_anywhere(hsp, s)


# ---- Kohya Deep Shrink -----------------------------------------------------------------


@dataclass(frozen=True)
class DeepShrinkIn:
    """input_block_patch(_after_skip): resize the features after input block `block_number`
    by 1/factor while σ is in [sigma_end, sigma_start]."""

    block_number: int
    factor: float
    sigma_start: float
    sigma_end: float
    method: str

    def __call__(self, h: torch.Tensor, transformer_options: dict) -> torch.Tensor:
        if transformer_options["block"][1] != self.block_number:
            return h
        sigma = float(transformer_options["sigmas"][0])
        if not self.sigma_end <= sigma <= self.sigma_start:
            return h
        width, height = round(h.shape[-1] / self.factor), round(h.shape[-2] / self.factor)
        return resize.upscale(h, width, height, self.method, "disabled")


@dataclass(frozen=True)
class DeepShrinkOut:
    """output_block_patch: resize the backbone features back to the skip features' size."""

    method: str

    def __call__(self, h: torch.Tensor, hsp: torch.Tensor, transformer_options: dict) -> tuple[torch.Tensor, torch.Tensor]:
        if h.shape[2] != hsp.shape[2]:
            h = resize.upscale(h, hsp.shape[-1], hsp.shape[-2], self.method, "disabled")
        return h, hsp


# ---- HyperTile (tfernd/HyperTile: self-attention within tiles) ---------------------------


def random_divisor(value: int, min_value: int, max_options: int, counter: int) -> int:
    """One of the `max_options` largest tile counts n (value // d for divisors d >= min_value
    of value), picked by a generator seeded with `counter`."""
    min_value = min(min_value, value)
    divisors = [d for d in range(min_value, value + 1) if value % d == 0]
    counts = [value // d for d in divisors[:max_options]]
    return counts[random.Random(counter).randint(0, len(counts) - 1)]


@lru_cache(maxsize=256)
def find_hw(tokens: int, aspect_ratio: float) -> tuple[int, int]:
    """(h, w) with h·w = tokens and w/h as close as possible to the image's aspect ratio."""
    h, w = round(math.sqrt(tokens * aspect_ratio)), round(math.sqrt(tokens / aspect_ratio))
    if h * w == tokens:
        return h, w
    if (tokens / h).is_integer():
        return h, tokens // h
    if (tokens / w).is_integer():
        return tokens // w, w
    pairs = [(d, tokens // d) for d in range(2, tokens + 1) if tokens % d == 0]
    return min(pairs, key=lambda p: abs(p[1] / p[0] - aspect_ratio))


def to_tiles(x: torch.Tensor, nh: int, nw: int, h: int, w: int) -> torch.Tensor:
    """[B, h·w, C] (row-major) -> [B·nh·nw, (h/nh)·(w/nw), C], tile by tile."""
    b, _, c = x.shape
    x = x.reshape(b, nh, h // nh, nw, w // nw, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b * nh * nw, (h // nh) * (w // nw), c)


def from_tiles(x: torch.Tensor, nh: int, nw: int, h: int, w: int) -> torch.Tensor:
    """Inverse of `to_tiles`."""
    c = x.shape[-1]
    x = x.reshape(-1, nh, nw, h // nh, w // nw, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h * w, c)


HYPERTILE_KEY = "hypertile_tiling"


@dataclass
class HyperTileIn:
    """attn1_patch: at the levels whose channel count is mc·2^d (d <= max_depth), split the
    self-attention tokens into nh x nw tiles of about `latent_tile` latent pixels (x 2^d
    with scale_depth) and attend within each tile; the split is left for HyperTileOut."""

    model_channels: int
    latent_tile: int
    swap_size: int
    max_depth: int
    scale_depth: bool
    counter: int = field(default=1)

    def applies_to(self, channels: int) -> bool:
        return any(channels == self.model_channels * 2**d for d in range(self.max_depth + 1))

    def to(self, target: Any) -> "HyperTileIn":
        """A fresh copy for a sampling run (counter from the start)."""
        return replace(self, counter=1)

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra: dict) -> tuple:
        if not self.applies_to(q.shape[-1]):
            return q, k, v
        shape = extra["original_shape"]
        h, w = find_hw(q.shape[1], shape[-1] / shape[-2])
        factor = 2 ** ((q.shape[-1] // self.model_channels) - 1) if self.scale_depth else 1
        nh = random_divisor(h, self.latent_tile * factor, self.swap_size, self.counter)
        nw = random_divisor(w, self.latent_tile * factor, self.swap_size, self.counter + 1)
        self.counter += 2
        if nh * nw <= 1:
            return q, k, v
        extra[HYPERTILE_KEY] = (nh, nw, h, w)
        tiles = lambda t: to_tiles(t, nh, nw, h, w) if t.shape[:2] == q.shape[:2] else t  # noqa: E731
        return tiles(q), tiles(k), tiles(v)


def hypertile_out(out: torch.Tensor, extra: dict) -> torch.Tensor:
    """attn1_output_patch: put the tiles of HyperTileIn back in place."""
    tiling = extra.pop(HYPERTILE_KEY, None)
    return out if tiling is None else from_tiles(out, *tiling)
