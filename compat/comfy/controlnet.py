"""`comfy.controlnet`: ComfyUI's CONTROL_NET classes and loader for plugins
(COMPAT-PLUGINS 3.17), over comfy_core.models.control* and comfy_core.loading.controlnet.

`load_controlnet(path)` gives None (logged) for a file that is not a control network, as
ComfyUI's does, where our loader raises. `ControlNetSD35` exists because packs subclass and
compare against it; no file loads as one here (SD3.5 models are not supported).
"""

from __future__ import annotations

import logging
from typing import Any

from comfy_core.loading.controlnet import ControlNetFileError
from comfy_core.loading.controlnet import load_controlnet as _load
from comfy_core.loading.safetensors_io import CheckpointError
from comfy_core.models.control import ControlBase, StrengthType, broadcast_image_to
from comfy_core.models.control_nets import ControlLora, ControlNet, T2IAdapter

log = logging.getLogger(__name__)

__all__ = ["ControlBase", "ControlLora", "ControlNet", "ControlNetSD35", "StrengthType",
           "T2IAdapter", "broadcast_image_to", "load_controlnet"]


class ControlNetSD35(ControlNet):
    """SD3.5's ControlNet kind (none loads here)."""


def load_controlnet(ckpt_path: str, model: Any = None, model_options: dict | None = None
                    ) -> ControlBase | None:
    """The CONTROL_NET of a file (a MODEL for diff ControlNets); None when it is not one."""
    options = model_options or {}
    try:
        return _load(ckpt_path, model, dtype=options.get("dtype"))
    except (ControlNetFileError, CheckpointError) as exc:
        log.error("%s", exc)
        return None
