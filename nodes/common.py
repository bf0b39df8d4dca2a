"""What every built-in node module shares: limits and access to the running app."""

from __future__ import annotations

from typing import Any

from comfy_core import runtime

MAX_RESOLUTION = 16384
EXTRAS_PRIMITIVE = "comfy_extras.nodes_primitive"
EXTRAS_MASK = "comfy_extras.nodes_mask"
EXTRAS_CLIP_SDXL = "comfy_extras.nodes_clip_sdxl"


def folders() -> Any:
    """The app's `comfy_core.files.FolderPaths`."""
    return runtime.app().folders


def setting(name: str, default: Any) -> Any:
    """One field of the app's Settings (the default when the app has no settings)."""
    settings = runtime.app().settings
    return default if settings is None else getattr(settings, name, default)


def ensure_loaded(models: list, extra_bytes: int = 0) -> None:
    """Put model handles on their compute device through the app's memory manager (or on
    the CPU when the app has none, e.g. in tests)."""
    memory = runtime.app().memory
    if memory is None:
        for model in models:
            model.load("cpu")
    else:
        memory.ensure_loaded(models, extra_bytes)


def check_interrupt() -> None:
    """Raise `runtime.Interrupted` when the running job was interrupted."""
    job = runtime.job()
    if job is not None:
        job.check_interrupt()
