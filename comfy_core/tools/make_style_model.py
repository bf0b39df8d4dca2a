"""Random-weight T2I-Adapter style models in the public layout.

    python -m comfy_core.tools.make_checkpoint --style-model --out models/style_models/tiny_style.safetensors

Tiny models read 32-wide image features (the tiny CLIP vision encoder's) and write 32-wide
tokens (the tiny SD1.5 text width); `--size full` is the released shape (1024 -> 768, three
blocks, 8 tokens).
"""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.style_model import StyleAdapter, StyleAdapterConfig
from comfy_core.tools.make_checkpoint import random_state

TINY = StyleAdapterConfig(width=32, context_dim=32, num_heads=8, num_layers=2, num_tokens=4)


def style_layout(size: str = "tiny") -> StyleAdapterConfig:
    if size not in ("tiny", "full"):
        raise ValueError(f"unknown size {size!r}; expected 'tiny' or 'full'")
    return TINY if size == "tiny" else StyleAdapterConfig()


def random_style_state(cfg: StyleAdapterConfig, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights; the style tokens and projection scaled by width^-0.5 as at init."""
    with torch.device("meta"):
        module = StyleAdapter(cfg)
    gen = torch.Generator().manual_seed(seed)
    state = random_state(module, gen, torch.float32)
    scale = cfg.width ** -0.5
    state["style_embedding"] = torch.randn(1, cfg.num_tokens, cfg.width, generator=gen) * scale
    state["proj"] = torch.randn(cfg.width, cfg.context_dim, generator=gen) * scale
    return state


def write_style_model(out: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    save_state_dict(random_style_state(style_layout(size), seed), out)
    return Path(out)
