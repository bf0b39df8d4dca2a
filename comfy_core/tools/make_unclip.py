"""Random-weight SD 2.1 unCLIP checkpoints in the public single-file layout.

    python -m comfy_core.tools.make_checkpoint --family sd21_unclip --out tiny_unclip.safetensors

An SD2 checkpoint whose UNet takes an ADM input twice the image-embedding width (image
embedding + noise-level embedding; 2048 for the released ViT-H "unclip-h"), plus the CLIP
vision tower in OpenCLIP's layout under `embedder.model.visual.`. Tiny checkpoints use the
tiny SD2 layout and a tiny ViT (32-wide embeddings, so a 64-wide ADM input).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from comfy_core.loading.clip_vision import UNCLIP_PREFIX, hf_to_openclip_visual
from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.tools.make_checkpoint import Layout, build_checkpoint, layout
from comfy_core.models.clip_vision import VisionConfig
from comfy_core.tools.make_clip_vision import random_vision_state, vision_layout


def unclip_layout(size: str) -> tuple[Layout, VisionConfig]:
    """The SD2 layout with the ADM input and the vision config of an unCLIP checkpoint."""
    base = layout("sd21v", size)
    vision = vision_layout("vit-h", size)
    unet = dataclasses.replace(base.unet, adm_in_channels=2 * vision.projection_dim)
    return dataclasses.replace(base, family="sd21_unclip", unet=unet), vision


def build_unclip_checkpoint(size: str, seed: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    lay, vision = unclip_layout(size)
    state = build_checkpoint(lay, seed, dtype)
    tower = hf_to_openclip_visual(random_vision_state(vision, seed + 1, dtype))
    state.update({UNCLIP_PREFIX + k: v for k, v in tower.items()})
    return state


def write_unclip_checkpoint(out: str | Path, size: str = "tiny", seed: int = 0, dtype: torch.dtype | None = None) -> Path:
    dtype = dtype or (torch.float32 if size == "tiny" else torch.float16)
    save_state_dict(build_unclip_checkpoint(size, seed, dtype), out,
                    metadata={"comfy_core.random_family": "sd21_unclip", "comfy_core.size": size})
    return Path(out)
