"""`comfy_api.v0_0_2`: the same V3 API as `comfy_api.latest` (ComfyUI 0.8.0 ships them equal)."""

from __future__ import annotations

from typing import Any

from comfy_api.latest import IO, ComfyAPI, ComfyAPISync, ComfyExtension, Input, io


def __getattr__(name: str) -> Any:
    import comfy_api.latest

    return getattr(comfy_api.latest, name)


__all__ = ["ComfyAPI", "ComfyAPISync", "ComfyExtension", "IO", "Input", "UI", "io", "ui"]
