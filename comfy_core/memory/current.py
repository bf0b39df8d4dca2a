"""Loading models through the running app's memory manager, for model values that load
themselves before use (CLIP encodes, VAE decodes, sampling), as ComfyUI's do and as
plugins calling them directly expect.

The manager is the running app's (`comfy_core.runtime`), else the plugin host's (code of a
pack running outside a job); with neither (a test, a script) models load on their own load
device with nothing else managed.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from comfy_core import runtime


def current_manager() -> Any:
    """The running app's MemoryManager, else the plugin host's, else None."""
    try:
        memory = runtime.app().memory
    except RuntimeError:
        memory = None
    if memory is None:
        from comfy_core.runtime.plugin_host import plugin_host_or_none

        host = plugin_host_or_none()
        memory = None if host is None else host.memory
    return memory


def load_models(models: Sequence[Any], extra_bytes: int = 0, memory: Any = None) -> None:
    """Load each model (anything with the memory protocol and a `load_device`) on its load
    device through `memory` (default: `current_manager()`), `extra_bytes` kept free for the
    work that follows (ComfyUI's load_models_gpu)."""
    by_device: dict[torch.device, list[Any]] = {}
    for model in models:
        by_device.setdefault(torch.device(getattr(model, "load_device", None) or model.device), []).append(model)
    memory = memory if memory is not None else current_manager()
    for device, group in by_device.items():
        if memory is None:
            for model in group:  # cheap when nothing changed; puts this model's patches in place
                model.load(device)
        else:
            memory.ensure_loaded(group, extra_bytes, device=device)
