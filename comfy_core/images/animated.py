"""One animated file from an IMAGE batch: SaveAnimatedWEBP and SaveAnimatedPNG.

Both name the file `<prefix>_<counter:05>_.<ext>` in the output folder (COMPAT 8.2), play at
`fps` (each frame `int(1000 / fps)` ms), appear only once complete (files/atomic.py) and
carry the prompt and workflow unless metadata is disabled: WebP in EXIF tags (0x0110 Model = "prompt:<json>", then 0x010F Make,
0x010E ... one per extra_pnginfo key as "<key>:<json>"), APNG in `comf` chunks after the
image data ("<key>\\0<json>", Latin-1), which is where ComfyUI's loaders look.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import torch
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from comfy_core.files.atomic import atomic_path
from comfy_core.images.convert import tensor_to_pil

WEBP_METHODS = {"default": 4, "fastest": 0, "slowest": 6}
_EXIF_PROMPT_TAG, _EXIF_FIRST_EXTRA_TAG = 0x0110, 0x010F


def _frames(images: torch.Tensor) -> list[Image.Image]:
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"expected an IMAGE batch [B, H, W, C], got {tuple(images.shape)}")
    return [tensor_to_pil(image) for image in images]


def _target(folders: Any, prefix: str, images: torch.Tensor, ext: str) -> tuple[Any, dict]:
    folder, filename, counter, subfolder, _ = folders.save_image_path(
        prefix, int(images.shape[2]), int(images.shape[1]), kind="output")
    name = f"{filename}_{counter:05}_.{ext}"
    return folder / name, {"filename": name, "subfolder": subfolder, "type": "output"}


def webp_exif(first: Image.Image, prompt: Any, extra_pnginfo: Mapping[str, Any] | None
              ) -> Image.Exif:
    """The EXIF block holding the prompt and workflow (see the module doc)."""
    exif = first.getexif()
    if prompt is not None:
        exif[_EXIF_PROMPT_TAG] = f"prompt:{json.dumps(prompt)}"
    tag = _EXIF_FIRST_EXTRA_TAG
    for key, value in (extra_pnginfo or {}).items():
        exif[tag] = f"{key}:{json.dumps(value)}"
        tag -= 1
    return exif


def apng_info(prompt: Any, extra_pnginfo: Mapping[str, Any] | None) -> PngInfo:
    """`comf` chunks after the image data, one per value (see the module doc)."""
    info = PngInfo()
    values = ([("prompt", prompt)] if prompt else []) + list((extra_pnginfo or {}).items())
    for key, value in values:
        info.add(b"comf", key.encode("latin-1") + b"\0" + json.dumps(value).encode("latin-1"),
                 after_idat=True)
    return info


def save_animated_webp(images: torch.Tensor, folders: Any, prefix: str, *, fps: float,
                       lossless: bool, quality: int, method: str, metadata: bool,
                       prompt: Any = None, extra_pnginfo: Mapping[str, Any] | None = None
                       ) -> dict:
    """Write all frames as one animated WebP; returns its UI entry."""
    if method not in WEBP_METHODS:
        raise ValueError(f"method must be one of {tuple(WEBP_METHODS)}, got {method!r}")
    frames = _frames(images)
    path, entry = _target(folders, prefix, images, "webp")
    exif = webp_exif(frames[0], prompt, extra_pnginfo) if metadata else frames[0].getexif()
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="WEBP", save_all=True, append_images=frames[1:],
                       duration=int(1000.0 / fps), exif=exif, lossless=lossless,
                       quality=quality, method=WEBP_METHODS[method])
    return entry


def save_animated_png(images: torch.Tensor, folders: Any, prefix: str, *, fps: float,
                      compress_level: int, metadata: bool, prompt: Any = None,
                      extra_pnginfo: Mapping[str, Any] | None = None) -> dict:
    """Write all frames as one APNG; returns its UI entry."""
    frames = _frames(images)
    path, entry = _target(folders, prefix, images, "png")
    info = apng_info(prompt, extra_pnginfo) if metadata else None
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="PNG", pnginfo=info, compress_level=compress_level,
                       save_all=True, duration=int(1000.0 / fps), append_images=frames[1:])
    return entry


def animated_ui(entry: dict, frame_count: int) -> dict:
    """The node's `ui` dict: the file, flagged animated when it has several frames."""
    ui: dict = {"images": [entry]}
    if frame_count > 1:
        ui["animated"] = (True,)
    return ui
