"""Running a pixel-space upscale model over an image in overlapping tiles.

The network (any callable `[B, C, h, w] -> [B, C, h·s, w·s]`, a spandrel descriptor in
practice) sees tiles of at most `tile` pixels overlapping by `overlap`; their outputs are
blended with linear feathering over `overlap · scale` output pixels
(`models.vae_tiled.tiled_apply`). An image no larger than one tile is one call, identical to
running the network on the whole image. When a tile runs out of memory the tile size is
halved and the whole image redone, down to `min_tile` (ComfyUI: 512, overlap 32, >= 128).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import torch

from comfy_core.memory.oom import is_oom
from comfy_core.models.vae_tiled import tile_starts, tiled_apply

log = logging.getLogger(__name__)

Network = Callable[[torch.Tensor], torch.Tensor]
TileProgress = Callable[[int, int], None]  # (tiles done, tiles in this attempt)

# Working memory per input pixel and output scale, as ComfyUI estimates it for the zoo of
# architectures (a 512x512 RGB tile at scale s needs about 384·s times its own bytes).
WORKSPACE_FACTOR = 384.0


@dataclass(frozen=True)
class TilePlan:
    """Tile size and overlap in input pixels, and the smallest tile tried after OOM."""

    tile: int = 512
    overlap: int = 32
    min_tile: int = 128


def tile_count(height: int, width: int, tile: int, overlap: int) -> int:
    """Number of tiles `tiled_apply` runs for one `height x width` image."""
    return len(tile_starts(height, tile, overlap)) * len(tile_starts(width, tile, overlap))


def upscale_tiled(net: Network, image: torch.Tensor, scale: float, out_channels: int, tile: int,
                  overlap: int, on_tile: TileProgress | None = None) -> torch.Tensor:
    """`image` [B, C, H, W] (on the network's device) -> float32 [B, out_channels, H·s, W·s]."""

    def run(part: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net(part)

    if tile_count(image.shape[2], image.shape[3], tile, overlap) == 1:
        out = run(image).float()
        if on_tile is not None:
            on_tile(1, 1)
        return out
    return tiled_apply(image, run, tile=tile, overlap=overlap, scale=scale, out_channels=out_channels,
                       on_tile=on_tile)


def upscale_with_backoff(net: Network, image: torch.Tensor, scale: float, out_channels: int,
                         plan: TilePlan = TilePlan(), on_tile: TileProgress | None = None,
                         on_oom: Callable[[], None] | None = None) -> torch.Tensor:
    """`upscale_tiled` with the tile halved after each out-of-memory error; the last
    error is raised once the tile would drop below `plan.min_tile`."""
    tile = plan.tile
    while True:
        try:
            return upscale_tiled(net, image, scale, out_channels, tile, plan.overlap, on_tile)
        except Exception as exc:  # noqa: BLE001 - filtered by is_oom, others re-raised
            if not is_oom(exc) or tile // 2 < plan.min_tile:
                raise
            log.warning("out of memory upscaling with %d px tiles; retrying with %d px", tile, tile // 2)
        tile //= 2
        if on_oom is not None:
            on_oom()


def workspace_bytes(image: torch.Tensor, scale: float, tile: int = 512) -> int:
    """Bytes to keep free for one tile's activations plus the image itself."""
    per_tile = tile * tile * 3 * image.element_size() * max(scale, 1.0) * WORKSPACE_FACTOR
    return int(per_tile + image.nelement() * image.element_size())
