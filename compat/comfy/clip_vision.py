"""`comfy.clip_vision` (COMPAT-PLUGINS 3.19): CLIP vision encoders for packs, our
CLIP_VISION value (`comfy_core.models.clip_vision_value`) under ComfyUI's names.

`load(path)` reads a CLIP vision file in transformers' or OpenCLIP's layout (what
CLIPVisionLoader loads), `load_clipvision_from_sd(sd, prefix)` a state dict already in
memory; dtype and devices are the server's text-encoder choices, as for the node. A file
that is not a CLIP vision encoder raises an error naming what it is instead (ComfyUI
returns None and the pack fails later on it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch

from comfy_core.loading.clip_vision import clip_vision_model, load_clip_vision, to_hf_layout
from comfy_core.loading.options import LoadOptions, load_options
from comfy_core.memory.current import current_manager
from comfy_core.models.clip_vision import clip_preprocess  # noqa: F401
from comfy_core.models.clip_vision_value import ClipVisionModel, Output  # noqa: F401


def _options() -> LoadOptions:
    return load_options(current_manager())


def load(ckpt_path: str | Path) -> ClipVisionModel:
    """The CLIP_VISION value of a CLIP vision file."""
    options = _options()
    return load_clip_vision(ckpt_path, dtype=options.clip, device=options.device, load_device=options.clip_device)


def load_clipvision_from_sd(sd: Mapping[str, torch.Tensor], prefix: str = "", convert_keys: bool = False) -> Any:
    """The CLIP_VISION value of the CLIP vision weights under `prefix` in a state dict
    (either layout; `convert_keys` is implied)."""
    options = _options()
    state = to_hf_layout(dict(sd), prefix)
    return clip_vision_model(state, "CLIP vision state dict", dtype=options.clip, load_device=options.clip_device,
                             offload_device=options.device)
