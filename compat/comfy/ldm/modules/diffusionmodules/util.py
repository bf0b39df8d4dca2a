"""`comfy.ldm.modules.diffusionmodules.util`: small helpers LDM-style networks are written
with (ControlNet variants in packs build their layers from them)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from comfy_core.models.unet import timestep_embedding as _timestep_embedding


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10000.0,
                       repeat_only: bool = False) -> torch.Tensor:
    """Sinusoidal [cos | sin] embedding (B,) -> (B, dim); `repeat_only` repeats the value."""
    if repeat_only:
        return timesteps[:, None].float().repeat(1, dim)
    return _timestep_embedding(timesteps, dim, max_period)


def zero_module(module: nn.Module) -> nn.Module:
    """`module` with every parameter set to zero (returned for chaining)."""
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
    return module


def conv_nd(dims: int, *args: Any, **kwargs: Any) -> nn.Module:
    """Conv1d / Conv2d / Conv3d by number of spatial dimensions."""
    layers = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
    if dims not in layers:
        raise ValueError(f"unsupported dimensions: {dims}")
    return layers[dims](*args, **kwargs)


def avg_pool_nd(dims: int, *args: Any, **kwargs: Any) -> nn.Module:
    pools = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
    if dims not in pools:
        raise ValueError(f"unsupported dimensions: {dims}")
    return pools[dims](*args, **kwargs)


def linear(*args: Any, **kwargs: Any) -> nn.Linear:
    return nn.Linear(*args, **kwargs)


def normalization(channels: int, dtype: Any = None, device: Any = None) -> nn.GroupNorm:
    """The UNet's 32-group GroupNorm."""
    return nn.GroupNorm(32, channels, dtype=dtype, device=device)
