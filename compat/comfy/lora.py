"""`comfy.lora` (COMPAT-PLUGINS 3.13): LoRA key maps and loading into patches for
`ModelPatcher.add_patches`, over `comfy_core.models.lora`.

`model_lora_keys_unet(model.model)` / `model_lora_keys_clip(clip.cond_stage_model)` give
`{name in the file: model key}`; `load_lora(lora_sd, key_map)` gives `{model key: adapter}`.
The key maps are filled into the dict passed (ComfyUI's shared default is not kept: a
fresh dict each call)."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, Mapping

import torch

from comfy_core.models.lora import clip_key_map, parse_lora, unet_key_map
from comfy_core.models.patch_math import calculate_weight  # noqa: F401

log = logging.getLogger(__name__)


def model_lora_keys_unet(model: Any, key_map: dict | None = None) -> dict:
    """LoRA names (kohya, LyCORIS, diffusers, `diffusion_model.*`) -> the UNet's keys
    (`diffusion_model.<path>.weight`) of a BaseModel (or a MODEL)."""
    key_map = {} if key_map is None else key_map
    base = model if hasattr(model, "diffusion_model") else model.model
    key_map.update(unet_key_map(SimpleNamespace(model=base)))
    return key_map


def model_lora_keys_clip(model: Any, key_map: dict | None = None) -> dict:
    """LoRA names -> text-encoder keys of a CLIP's `cond_stage_model` (or a CLIP)."""
    key_map = {} if key_map is None else key_map
    stage = getattr(model, "cond_stage_model", model)
    encoders = stage.encoders()
    sdxl = {"clip_l", "clip_g"} <= set(encoders)
    clip = SimpleNamespace(encoders=encoders, family=SimpleNamespace(adm="sdxl" if sdxl else None))
    key_map.update(clip_key_map(clip))
    return key_map


def load_lora(lora: Mapping[str, torch.Tensor], to_load: Mapping[str, str], log_missing: bool = True) -> dict:
    """`{model key: adapter}` for the file's adapters whose names `to_load` maps."""
    found, unmatched = parse_lora(lora, to_load)
    if log_missing:
        for key in unmatched:
            log.warning("lora key not loaded: %s", key)
    return {m.target: m.delta for m in found}
