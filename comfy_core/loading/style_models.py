"""Style model files (StyleModelLoader): the T2I-Adapter style model, sizes from its weights."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from comfy_core.loading.checkpoint import materialize
from comfy_core.loading.describe import describe_weights
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.models.style_model import StyleAdapter, StyleAdapterConfig, StyleModel

RELEASED_HEADS = 8


def style_config(state: dict[str, torch.Tensor]) -> StyleAdapterConfig:
    """Width, token count, output width and depth from the tensors; 8 heads (the released
    model's) when the width allows, else one."""
    _, tokens, width = state["style_embedding"].shape
    layers = len({m.group(1) for k in state if (m := re.match(r"transformer_layes\.(\d+)\.", k))})
    return StyleAdapterConfig(width=int(width), context_dim=int(state["proj"].shape[1]),
                              num_heads=RELEASED_HEADS if width % RELEASED_HEADS == 0 else 1,
                              num_layers=layers, num_tokens=int(tokens))


def load_style_model(path: str | Path) -> StyleModel:
    """A T2I-Adapter style model; other files are refused naming what they look like."""
    path = Path(path)
    state = load_state_dict(path)
    if "style_embedding" not in state or "proj" not in state:
        if "redux_down.weight" in state:
            raise CheckpointError(f"{path.name}: a Flux Redux style model; only the T2I-Adapter style model "
                                  f"(SD1.x) is supported")
        raise CheckpointError(f"{path.name}: expected a T2I-Adapter style model ('style_embedding', 'proj', "
                              f"'transformer_layes.*'), got {describe_weights(state)}")
    cfg = style_config(state)
    return StyleModel(materialize(lambda: StyleAdapter(cfg), state, torch.float32, path.name))
