"""Random-weight PhotoMaker ID encoders in the public layout.

    python -m comfy_core.tools.make_checkpoint --photomaker --out models/photomaker/tiny_photomaker.safetensors

Tiny encoders fuse into 64-wide prompt embeddings (the tiny SDXL checkpoint's text width:
two 32-wide projections of a 32-wide, two-layer CLIP vision tower); `--size full` is the
released shape (ViT-L/14, 768 + 1280 = 2048).
"""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.photomaker import PhotoMakerIDEncoder
from comfy_core.tools.make_checkpoint import random_state
from comfy_core.tools.make_clip_vision import vision_layout


def photomaker_layout(size: str = "tiny") -> tuple:
    """(vision config, second projection width, fuse width)."""
    vision = vision_layout("vit-l", size)
    proj2 = 32 if size == "tiny" else 1280
    return vision, proj2, vision.projection_dim + proj2


def random_photomaker_state(size: str = "tiny", seed: int = 0) -> dict[str, torch.Tensor]:
    vision, proj2, embed = photomaker_layout(size)
    with torch.device("meta"):
        module = PhotoMakerIDEncoder(vision, proj2, embed)
    gen = torch.Generator().manual_seed(seed)
    state = random_state(module, gen, torch.float32)
    state["vision_model.embeddings.class_embedding"] = torch.randn(vision.hidden_size, generator=gen) * 0.2
    return state


def write_photomaker(out: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    save_state_dict(random_photomaker_state(size, seed), out)
    return Path(out)
