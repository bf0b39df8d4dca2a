"""`comfy_api.latest`: ComfyUI's V3 node API for plugins, over `comfy_core.registry.v3`.

`from comfy_api.latest import io, ui, ComfyExtension` (aliases IO, UI); `Types` and
`InputImpl` carry the video helpers by name. `io` is importable
without torch; `ui` (whose helpers write images) is imported on first use, so loading this
package at start keeps the engine torch-free.
"""

from __future__ import annotations

import importlib
from typing import Any

from comfy_api.latest import _io as io
from comfy_api.latest._api import ComfyAPI, ComfyAPISync, Input
from comfy_api.latest._video import InputImpl, Types
from comfy_core.registry.v3.node import ComfyExtension

IO = io
_LAZY = {"ui": "comfy_api.latest._ui", "UI": "comfy_api.latest._ui"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(_LAZY[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ComfyAPI", "ComfyAPISync", "ComfyExtension", "IO", "Input", "InputImpl", "Types", "UI", "io", "ui"]
