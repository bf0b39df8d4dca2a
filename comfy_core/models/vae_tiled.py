"""Tiled VAE encode/decode: process overlapping tiles and blend them with linear feathering
so memory stays bounded for large images (COMPAT 9.1: 64x64-latent tiles, overlap 16)."""

from __future__ import annotations

from typing import Callable

import torch

TileFn = Callable[[torch.Tensor], torch.Tensor]


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, size) with tiles of `tile` overlapping by >= `overlap`."""
    if size <= tile:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, size - tile, stride))
    return starts + [size - tile]


def _ramp(n: int, feather: int, low: bool, high: bool) -> torch.Tensor:
    """(n,) weights: 1 inside, rising linearly over `feather` samples on overlapped sides."""
    w = torch.ones(n)
    f = min(feather, n // 2)
    if f > 0:
        ramp = torch.arange(1, f + 1, dtype=torch.float32) / (f + 1)
        if low:
            w[:f] = ramp
        if high:
            w[n - f :] = ramp.flip(0)
    return w


def tiled_apply(
    x: torch.Tensor,
    fn: TileFn,
    *,
    tile: int | tuple[int, int],
    overlap: int,
    scale: float,
    out_channels: int,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Apply `fn` (B,C,th,tw) -> (B,out_channels,th*scale,tw*scale) over tiles of x (B,C,H,W)
    (`tile` is th = tw, or (th, tw)) and blend the results; returns float32
    (B,out_channels,H*scale,W*scale) on x's device."""
    b, _, h, w = x.shape
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    ys, xs = tile_starts(h, th, overlap), tile_starts(w, tw, overlap)
    out_h, out_w = round(h * scale), round(w * scale)
    out = torch.zeros(b, out_channels, out_h, out_w, device=x.device)
    weight = torch.zeros(1, 1, out_h, out_w, device=x.device)
    feather = round(overlap * scale)
    total, done = len(ys) * len(xs), 0
    for y0 in ys:
        for x0 in xs:
            part = fn(x[:, :, y0 : y0 + th, x0 : x0 + tw]).float()  # (B, out_C, ph, pw)
            ph, pw = part.shape[-2:]
            oy, ox = round(y0 * scale), round(x0 * scale)
            wy = _ramp(ph, feather, y0 > 0, y0 + th < h)
            wx = _ramp(pw, feather, x0 > 0, x0 + tw < w)
            mask = (wy[:, None] * wx[None, :]).to(x.device)  # (ph, pw)
            out[:, :, oy : oy + ph, ox : ox + pw] += part * mask
            weight[:, :, oy : oy + ph, ox : ox + pw] += mask
            done += 1
            if on_tile is not None:
                on_tile(done, total)
    return out / weight
