"""`comfy_extras.nodes_mask`: ComfyUI's mask nodes (our built-in classes) and `composite`."""

from __future__ import annotations

import torch

from comfy_core.images import masks
from comfy_extras._catalog import export

globals().update(export(__name__))


def composite(destination: torch.Tensor, source: torch.Tensor, x: int, y: int,
              mask: torch.Tensor | None = None, multiplier: int = 8,
              resize_source: bool = False) -> torch.Tensor:
    """Paste channel-first `source` into `destination` at `(x // multiplier, y //
    multiplier)` through `mask`; modifies and returns `destination`."""
    return masks.paste(destination, source, x, y, mask, multiplier, resize_source)
