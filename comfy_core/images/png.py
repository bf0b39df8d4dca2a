"""PNG metadata: the `prompt` and `workflow` text chunks tools re-import graphs from.

Each value is `json.dumps(...)` (ASCII-escaped), so PIL always writes plain tEXt chunks:
`prompt` first, then one chunk per `extra_pnginfo` key in its order (normally `workflow`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from comfy_core.files.atomic import atomic_path

SAVE_COMPRESS_LEVEL = 4  # SaveImage
PREVIEW_COMPRESS_LEVEL = 1  # PreviewImage, websocket previews


def build_pnginfo(prompt: Any = None, extra_pnginfo: Mapping[str, Any] | None = None
                  ) -> PngInfo:
    """Text chunks for one saved image; `prompt` is skipped when None, like ComfyUI."""
    info = PngInfo()
    if prompt is not None:
        info.add_text("prompt", json.dumps(prompt))
    for key, value in (extra_pnginfo or {}).items():
        info.add_text(str(key), json.dumps(value))
    return info


def save_png(image: Image.Image, path: Path, pnginfo: PngInfo | None,
             compress_level: int) -> None:
    """Write `image` to `path` as PNG with the given chunks (None = no metadata); the file
    appears under its name only once complete."""
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", pnginfo=pnginfo, compress_level=compress_level)


def read_png_text(path: Path) -> dict[str, str]:
    """All tEXt/iTXt/zTXt chunks of a PNG as a dict (empty if it has none)."""
    with Image.open(path) as image:
        image.load()
        return dict(getattr(image, "text", {}) or {})


def read_embedded_graphs(path: Path) -> tuple[dict | None, dict | None]:
    """(API prompt, UI workflow) stored in a PNG by SaveImage; None where absent or broken."""
    text = read_png_text(path)
    return _json_or_none(text.get("prompt")), _json_or_none(text.get("workflow"))


def _json_or_none(raw: str | None) -> dict | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
