"""`comfy.controlnet`: ComfyUI's CONTROL_NET classes and loader for plugins
(COMPAT-PLUGINS 3.17), over comfy_core.models.control* and comfy_core.loading.controlnet.

`load_controlnet(path)` gives None (logged) for a file that is not a control network, as
ComfyUI's does, where our loader raises. `ControlNetSD35` exists because packs subclass and
compare against it; no file loads as one here (SD3.5 models are not supported).
"""

from __future__ import annotations

import logging
from typing import Any

from comfy_core.loading.controlnet import ControlNetFileError, controlnet_from_state, t2i_from_state
from comfy_core.loading.controlnet import load_controlnet as _load
from comfy_core.loading.safetensors_io import CheckpointError
from comfy_core.models.control import ControlBase, StrengthType, broadcast_image_to
from comfy_core.models.control_nets import ControlLora, ControlNet, T2IAdapter

log = logging.getLogger(__name__)

__all__ = ["ControlBase", "ControlLora", "ControlNet", "ControlNetSD35", "StrengthType",
           "T2IAdapter", "broadcast_image_to", "load_controlnet", "load_controlnet_state_dict",
           "load_t2i_adapter"]


class ControlNetSD35(ControlNet):
    """SD3.5's ControlNet kind (none loads here)."""


def load_controlnet(ckpt_path: str, model: Any = None, model_options: dict | None = None
                    ) -> ControlBase | None:
    """The CONTROL_NET of a file (a MODEL for diff ControlNets); None when it is not one."""
    options = model_options or {}
    try:
        return _load(ckpt_path, model, dtype=options.get("dtype"),
                     global_average_pooling=options.get("global_average_pooling"))
    except (ControlNetFileError, CheckpointError) as exc:
        log.error("%s", exc)
        return None


def load_controlnet_state_dict(state_dict: dict, model: Any = None, model_options: dict | None = None
                               ) -> ControlBase | None:
    """The CONTROL_NET of weights already in memory; None when they are not one."""
    options = model_options or {}
    try:
        return controlnet_from_state(dict(state_dict), "state dict", model, dtype=options.get("dtype"),
                                     global_average_pooling=bool(options.get("global_average_pooling", False)))
    except (ControlNetFileError, CheckpointError) as exc:
        log.error("%s", exc)
        return None


def load_t2i_adapter(t2i_data: dict, model_options: dict | None = None) -> T2IAdapter | None:
    """A T2I-Adapter from its weights; None when they are not an adapter's."""
    try:
        return t2i_from_state(dict(t2i_data), "state dict")
    except (ControlNetFileError, CheckpointError) as exc:
        log.error("%s", exc)
        return None
