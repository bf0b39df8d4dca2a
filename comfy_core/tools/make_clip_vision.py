"""Random-weight CLIP vision encoders in the layouts packs ship.

    python -m comfy_core.tools.make_checkpoint --clip-vision vit-h --out models/clip_vision/tiny_h.safetensors
    python -m comfy_core.tools.make_checkpoint --clip-vision vit-g --clip-vision-layout openclip --out ...

`hf` writes transformers' `CLIPVisionModelWithProjection` keys (`vision_model.*`,
`visual_projection.weight`), the layout of ComfyUI's `clip_vision_g.safetensors` and
IP-Adapter's image encoders; `openclip` writes OpenCLIP's `visual.*` keys. Tiny encoders
keep the real patch size and input resolution (224 px, 14 px patches) at width 32 and two
layers; `full` is the real ViT-L/14, ViT-H/14 or ViT-bigG/14 shape.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import torch

from comfy_core.loading.clip_vision import hf_to_openclip_visual
from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.clip_vision import ClipVisionModule, VisionConfig
from comfy_core.tools.make_checkpoint import random_state

FULL = MappingProxyType({
    "vit-l": VisionConfig(),
    "vit-h": VisionConfig(hidden_size=1280, intermediate_size=5120, num_layers=32, projection_dim=1024,
                          hidden_act="gelu"),
    "vit-g": VisionConfig(hidden_size=1664, intermediate_size=8192, num_layers=48, projection_dim=1280,
                          hidden_act="gelu"),
})
LAYOUTS = ("hf", "openclip")


def vision_layout(kind: str, size: str = "tiny", projection_dim: int | None = None) -> VisionConfig:
    """The encoder config of `kind` ("vit-l", "vit-h", "vit-g") at `size` ("tiny"/"full");
    `projection_dim` overrides the embedding width (tiny unCLIP/SDXL checkpoints need it to
    match their ADM input)."""
    if kind not in FULL:
        raise ValueError(f"unknown CLIP vision kind {kind!r}; expected one of {sorted(FULL)}")
    cfg = FULL[kind]
    if size == "tiny":
        cfg = VisionConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=1,
                           projection_dim=32, hidden_act="gelu")
    elif size != "full":
        raise ValueError(f"unknown size {size!r}; expected 'tiny' or 'full'")
    if projection_dim is not None:
        cfg = VisionConfig(**{**cfg.__dict__, "projection_dim": projection_dim})
    return cfg


def random_vision_state(cfg: VisionConfig, seed: int = 0, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """transformers-layout random weights: fan-in scaled matrices, N(0, 0.02) embeddings,
    unit LayerNorm weights, small biases."""
    with torch.device("meta"):
        module = ClipVisionModule(cfg)
    gen = torch.Generator().manual_seed(seed)
    state = random_state(module, gen, dtype)
    state["vision_model.embeddings.class_embedding"] = (
        torch.randn(cfg.hidden_size, generator=gen) * cfg.hidden_size ** -0.5).to(dtype)
    return state


def write_clip_vision(kind: str, out: str | Path, size: str = "tiny", layout: str = "hf", seed: int = 0,
                      projection_dim: int | None = None) -> Path:
    """Write a random `kind` encoder to `out` in `layout` ("hf" or "openclip")."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {list(LAYOUTS)}")
    dtype = torch.float32 if size == "tiny" else torch.float16
    state = random_vision_state(vision_layout(kind, size, projection_dim), seed, dtype)
    if layout == "openclip":
        state = {"visual." + k: v for k, v in hf_to_openclip_visual(state).items()}
    save_state_dict(state, out)
    return Path(out)
