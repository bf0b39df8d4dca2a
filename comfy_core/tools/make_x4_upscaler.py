"""Random-weight SD 2.x x4 upscaler checkpoints in the public single-file layout
(`x4-upscaler-ema.safetensors`):

    python -m comfy_core.tools.make_checkpoint --family sd_x4_upscaler --out models/checkpoints/x4_tiny.safetensors

Keys as in the released file: the UNet under `model.diffusion_model.` (7 input channels,
the noise-level embedding `label_emb.weight` with 1000 rows, no self-attention in the first
three levels), the 3-level VAE under `first_stage_model.`, the OpenCLIP-H text tower under
`cond_stage_model.model.`, and the low-scale model's schedule buffers under
`low_scale_model.` (β 1e-4..2e-2, which the loader does not need). The tiny size keeps every
structural trait (4 UNet levels with the real attention layout, 3 VAE levels) at 32-64
model channels and 2 CLIP layers: about 15 MB, most of it the full CLIP vocabulary.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from comfy_core.loading import keymaps as km
from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.family import SD_X4_UPSCALER, UNetConfig
from comfy_core.models.vae import VAEConfig
from comfy_core.sampling.model_sampling import linear_betas
from comfy_core.tools.make_checkpoint import CLIP_G_TINY, CLIP_H_FULL, Layout, build_checkpoint

FAMILY = "sd_x4_upscaler"
LOW_SCALE_PREFIX = "low_scale_model."
VAE_FULL = VAEConfig(ch_mult=(1, 2, 4))
VAE_TINY = VAEConfig(ch=32, ch_mult=(1, 2, 2), num_res_blocks=1)


def tiny_unet(context_dim: int = CLIP_G_TINY.hidden_size) -> UNetConfig:
    """The x4 UNet at 32 channels (64 from level 1 on, so the cross-attention-only first
    attention of levels 1 and 2 differs in shape from the self-attention of level 3), one
    res block per level, attention from level 1 on."""
    return dataclasses.replace(SD_X4_UPSCALER.unet, model_channels=32, channel_mult=(1, 2, 2, 2),
                               num_res_blocks=(1, 1, 1, 1),
                               transformer_depth=(0, 1, 1, 1), transformer_depth_output=(1, 1, 1, 1, 1, 1, 0, 0),
                               context_dim=context_dim)


def x4_layout(size: str) -> Layout:
    """The checkpoint layout at `size` ("tiny" or "full")."""
    if size == "tiny":
        return Layout(FAMILY, tiny_unet(), VAE_TINY, ((km.CLIP_H_PREFIX, CLIP_G_TINY, True),))
    return Layout(FAMILY, SD_X4_UPSCALER.unet, VAE_FULL, ((km.CLIP_H_PREFIX, CLIP_H_FULL, True),))


def low_scale_buffers(timesteps: int = 1000, linear_start: float = 1e-4,
                      linear_end: float = 2e-2) -> dict[str, torch.Tensor]:
    """The noise-augmentation schedule buffers the original training code stores (float32)."""
    betas = linear_betas(timesteps, linear_start, linear_end)
    ac = torch.cumprod(1.0 - betas, dim=0)
    prev = torch.cat([torch.ones(1, dtype=ac.dtype), ac[:-1]])
    values = {"betas": betas, "alphas_cumprod": ac, "alphas_cumprod_prev": prev,
              "sqrt_alphas_cumprod": ac.sqrt(), "sqrt_one_minus_alphas_cumprod": (1 - ac).sqrt(),
              "log_one_minus_alphas_cumprod": (1 - ac).log(), "sqrt_recip_alphas_cumprod": (1 / ac).sqrt(),
              "sqrt_recipm1_alphas_cumprod": (1 / ac - 1).sqrt()}
    return {LOW_SCALE_PREFIX + k: v.float() for k, v in values.items()}


def build_x4_upscaler(size: str = "tiny", seed: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The whole single-file state dict with random weights."""
    return build_checkpoint(x4_layout(size), seed, dtype) | low_scale_buffers()


def write_x4_upscaler(out: str | Path, size: str = "tiny", seed: int = 0, dtype: torch.dtype | None = None) -> Path:
    """Write a random x4 upscaler checkpoint; tiny ones default to float32, full ones to float16."""
    dtype = dtype or (torch.float32 if size == "tiny" else torch.float16)
    save_state_dict(build_x4_upscaler(size, seed, dtype), out,
                    metadata={"comfy_core.random_family": FAMILY, "comfy_core.size": size})
    return Path(out)
