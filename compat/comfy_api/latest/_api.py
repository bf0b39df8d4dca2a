"""`ComfyAPI` of `comfy_api.latest`: what a node may ask of the running execution, as
ComfyUI names it, translated to the running job (`comfy_core.runtime.job()`)."""

from __future__ import annotations

from typing import Any

from comfy_core import runtime
from comfy_core.runtime.awaitables import resolve_awaitable


def _preview(image: Any, ignore_size_limit: bool) -> Any:
    """A PIL image or an IMAGE tensor ([B,]H,W,C) as the ("JPEG", PIL image, max size)
    preview tuple the progress sink sends."""
    if image is None:
        return None
    if hasattr(image, "movedim"):  # a tensor: first image of a batch
        from comfy_core.images.convert import tensor_to_pil

        image = tensor_to_pil(image[0] if image.ndim == 4 else image)
    settings = runtime.app().settings
    size = None if ignore_size_limit else getattr(settings, "preview_size", 512)
    return (image.format or "JPEG", image, size)


class _Execution:
    async def set_progress(self, value: float, max_value: float, node_id: str | None = None,
                           preview_image: Any = None, ignore_size_limit: bool = False) -> None:
        """Update the running node's progress bar (and preview)."""
        job = runtime.job()
        if job is None:
            raise ValueError("set_progress needs a running node (node_id alone is not enough "
                             "outside an execution)")
        if node_id is not None and node_id != job.node_id:
            raise ValueError(f"set_progress for node {node_id!r}, but node {job.node_id!r} "
                             "is running")
        job.progress(value, max_value, _preview(preview_image, ignore_size_limit))


class ComfyAPI:
    """`ComfyAPI().execution.set_progress(...)` (async)."""

    VERSION = "latest"
    STABLE = False

    def __init__(self) -> None:
        self.execution = _Execution()


class _SyncExecution:
    def set_progress(self, *args: Any, **kwargs: Any) -> None:
        resolve_awaitable(_Execution().set_progress(*args, **kwargs))


class ComfyAPISync:
    """The same calls, synchronous."""

    VERSION = "latest"
    STABLE = False

    def __init__(self) -> None:
        self.execution = _SyncExecution()


class Input:
    """Type names for annotations (IMAGE/MASK tensors, LATENT dicts, ...)."""

    Image = Any
    Audio = dict
    Mask = Any
    Latent = dict
    Video = Any
