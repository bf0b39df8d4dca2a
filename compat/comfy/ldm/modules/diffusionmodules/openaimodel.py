"""`comfy.ldm.modules.diffusionmodules.openaimodel`: the SD UNet and its blocks
(COMPAT-PLUGINS 3.10, 3.21), from `comfy_core.models.unet`. Packs replace or wrap
`forward_timestep_embed` handling through `forward_timestep_embed_patch` and check layer
classes (`isinstance(layer, ResBlock)`)."""

from __future__ import annotations

from typing import Any

import torch

from comfy.ldm.modules._unsupported_blocks import VideoResBlock  # noqa: F401
from comfy_core.models.attention import SpatialTransformer  # noqa: F401
from comfy_core.models.unet import (  # noqa: F401
    Downsample,
    ResBlock,
    TimestepEmbedSequential,
    UNetModel,
    Upsample,
    apply_control,
    timestep_embedding,
)


def forward_timestep_embed(ts: TimestepEmbedSequential, x: torch.Tensor, emb: torch.Tensor,
                           context: torch.Tensor | None = None, transformer_options: dict | None = None,
                           output_shape: Any = None, time_context: Any = None, num_video_frames: Any = None,
                           image_only_indicator: Any = None) -> torch.Tensor:
    """Run one UNet block's layers (as the UNet itself does)."""
    return ts(x, emb, context, {} if transformer_options is None else transformer_options, output_shape)
