"""PhotoMaker ID-encoder files (PhotoMakerLoader): the public `photomaker-v1` encoder,
flat (`vision_model.*`, `visual_projection_2.weight`, `fuse_module.*`) or under the
`id_encoder.` prefix of the release file converted to safetensors (its `lora_weights.*`,
the UNet LoRA, is not part of the encoder and is skipped)."""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_core.loading import keymaps as km
from comfy_core.loading.checkpoint import materialize
from comfy_core.loading.clip_vision import vision_config
from comfy_core.loading.describe import describe_weights
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.models.photomaker import PhotoMakerIDEncoder

PREFIX = "id_encoder."
_PROBES = ("visual_projection_2.weight", "fuse_module.layer_norm.weight")


def load_photomaker(path: str | Path) -> PhotoMakerIDEncoder:
    path = Path(path)
    state = load_state_dict(path)
    if any(k.startswith(PREFIX) for k in state):
        state = km.strip_prefix(state, PREFIX)
    if not all(p in state for p in _PROBES):
        raise CheckpointError(f"{path.name}: expected a PhotoMaker ID encoder ({', '.join(map(repr, _PROBES))} "
                              f"and CLIP vision keys), got {describe_weights(state)}")
    cfg = vision_config(state, path.name)
    proj2 = int(state["visual_projection_2.weight"].shape[0])
    embed = int(state["fuse_module.layer_norm.weight"].shape[0])
    if cfg.projection_dim + proj2 != embed:
        raise CheckpointError(f"{path.name}: projections give {cfg.projection_dim + proj2} features, the fuse "
                              f"module takes {embed}")
    keep = {k: v for k, v in state.items() if not k.startswith("lora_weights.")}
    return materialize(lambda: PhotoMakerIDEncoder(cfg, proj2, embed), keep, torch.float32, f"{path.name} (PhotoMaker)")
