"""Random-weight Lotus-D UNets in the public diffusion-model layout
(`models/diffusion_models/lotus-depth-d-v1-1.safetensors`, loaded by UNETLoader):

    python -m comfy_core.tools.make_checkpoint --lotus --out models/diffusion_models/lotus_tiny.safetensors

Keys are the LDM UNet's without a prefix (`input_blocks...`, `label_emb.0.0.weight` [time
embedding width, 4] for the task switcher). The full size is SD2's UNet (320 channels,
64-channel heads, linear projections). The tiny one keeps every structural trait Lotus is
detected by (4-wide ADM input, linear projections, 4 latent channels in and out) at 32
model channels and two levels; its cross-attention stays 1024 wide, because the fixed
conditioning LotusConditioning gives is SD2's text width whatever the UNet's size.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.family import LOTUS, UNetConfig
from comfy_core.models.unet import UNetModel
from comfy_core.tools.make_checkpoint import random_state

FAMILY = "lotus"


def lotus_unet_config(size: str = "tiny") -> UNetConfig:
    """The Lotus-D UNet at `size` ("tiny" or "full")."""
    if size == "full":
        return LOTUS.unet
    if size != "tiny":
        raise ValueError(f"unknown size {size!r}; expected 'tiny' or 'full'")
    return dataclasses.replace(LOTUS.unet, model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 1),
                               transformer_depth=(1, 1), transformer_depth_output=(1, 1, 1, 1),
                               transformer_depth_middle=1)


def build_lotus_unet(size: str = "tiny", seed: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The UNet's state dict (bare LDM keys) with random weights."""
    with torch.device("meta"):
        unet = UNetModel(lotus_unet_config(size))
    return random_state(unet, torch.Generator().manual_seed(seed), dtype)


def write_lotus_unet(out: str | Path, size: str = "tiny", seed: int = 0, dtype: torch.dtype | None = None) -> Path:
    """Write a random Lotus-D UNet; tiny ones default to float32, full ones to float16."""
    dtype = dtype or (torch.float32 if size == "tiny" else torch.float16)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_state_dict(build_lotus_unet(size, seed, dtype), out,
                    metadata={"comfy_core.random_family": FAMILY, "comfy_core.size": size})
    return Path(out)
