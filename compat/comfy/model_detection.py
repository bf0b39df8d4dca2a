"""`comfy.model_detection` (COMPAT-PLUGINS 3.21): which SD model a UNet state dict is,
from `comfy_core.loading.detect` (every size read from the weights)."""

from __future__ import annotations

from typing import Any, Mapping

from comfy_core.loading import keymaps as km
from comfy_core.loading.detect import DetectionError, detect_family
from comfy_core.loading.diffusers_folder import diffusers_unet_to_ldm
from comfy_core.loading.safetensors_io import CheckpointError
from comfy_core.models.base_model import ModelConfig, unet_config_dict


def count_blocks(state_dict_keys: Any, prefix_string: str) -> int:
    """How many consecutive numbers i have a key starting with `prefix_string.format(i)`."""
    keys, count = list(state_dict_keys), 0
    while any(k.startswith(prefix_string.format(count)) for k in keys):
        count += 1
    return count


def unet_prefix_from_state_dict(state_dict: Mapping[str, Any]) -> str:
    """The prefix of a checkpoint's UNet keys ("model.diffusion_model." for SD files)."""
    return km.unet_prefix(list(state_dict)) or "model."


def _strip(state_dict: Mapping[str, Any], prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def model_config_from_unet(state_dict: Mapping[str, Any], unet_key_prefix: str,
                           use_base_if_no_match: bool = False, metadata: Any = None) -> ModelConfig | None:
    """The model config (`unet_config`, `latent_format`, ...) of the UNet under the prefix;
    None when it is not an SD1.x/SD2.x/SDXL UNet."""
    try:
        family = detect_family(_strip(state_dict, unet_key_prefix), state_dict)
    except (DetectionError, KeyError):
        return None
    return ModelConfig(family)


def unet_config_from_diffusers_unet(state_dict: Mapping[str, Any], dtype: Any = None) -> dict | None:
    """`unet_config` of a diffusers-layout UNet (or ControlNet) state dict."""
    try:
        family = detect_family(diffusers_unet_to_ldm(dict(state_dict)))
    except (CheckpointError, DetectionError, KeyError):
        return None
    config = unet_config_dict(family.unet)
    if dtype is not None:
        config["dtype"] = dtype
    return config


def convert_config(unet_config: dict) -> dict:
    """ComfyUI normalises a config's per-level lists; ours are already per level."""
    return dict(unet_config)
