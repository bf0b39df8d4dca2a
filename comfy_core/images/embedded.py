"""Graphs embedded in shared files: what a user drops on the editor to open a workflow.

PNG pictures carry `prompt` and `workflow` text chunks (SaveImage); animated WebP files
carry EXIF strings `prompt:{...}` and `workflow:{...}` (SaveAnimatedWEBP: the prompt in
tag 0x0110, extra_pnginfo entries counting down from 0x010F); JSON files are a UI
workflow or an API prompt themselves (or `{"prompt": ...}` as POST /prompt takes).
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from comfy_core.images.png import read_embedded_graphs

GRAPH_SUFFIXES = (".png", ".webp", ".json")


def _json_object(raw: str | None) -> dict | None:
    try:
        value = json.loads(raw) if raw is not None else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _webp_graphs(path: Path) -> tuple[dict | None, dict | None]:
    found: dict[str, dict | None] = {}
    with Image.open(path) as image:
        for value in image.getexif().values():
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            if isinstance(text, str):
                key, sep, body = text.partition(":")
                if sep and key in ("prompt", "workflow") and key not in found:
                    found[key] = _json_object(body)
    return found.get("prompt"), found.get("workflow")


def _json_graphs(path: Path) -> tuple[dict | None, dict | None]:
    data = _json_object(path.read_text(encoding="utf-8"))
    if data is None:
        return None, None
    if isinstance(data.get("nodes"), list):
        return None, data
    prompt = data.get("prompt") if isinstance(data.get("prompt"), dict) else data
    return prompt, None


def read_graphs(path: Path) -> tuple[dict | None, dict | None]:
    """(API prompt, UI workflow) a PNG, WebP or JSON file holds; None where absent,
    unreadable or not a JSON object."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return _json_graphs(path)
        if suffix == ".png":
            return read_embedded_graphs(path)
        if suffix == ".webp":
            return _webp_graphs(path)
    except (OSError, UnicodeDecodeError, UnidentifiedImageError, SyntaxError):
        return None, None
    return None, None
