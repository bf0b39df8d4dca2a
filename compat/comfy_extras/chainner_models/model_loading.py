"""`comfy_extras.chainner_models.model_loading` (COMPAT-PLUGINS 6.4): ComfyUI's deprecated
shim over spandrel, kept because packs still load upscale models with it:
`load_state_dict(sd)` gives the spandrel descriptor (our upscale model loader's)."""

from __future__ import annotations

import logging
from typing import Any

import torch

from comfy_core.loading.upscale_models import descriptor_from_state

log = logging.getLogger(__name__)


def load_state_dict(state_dict: dict[str, torch.Tensor]) -> Any:
    """The UPSCALE_MODEL of an upscale model's state dict (errors say what it is instead)."""
    log.warning("comfy_extras.chainner_models is deprecated: packs should load upscale models with spandrel")
    return descriptor_from_state(dict(state_dict), "upscale model state dict")
