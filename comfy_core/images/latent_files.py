"""`.latent` files: SaveLatent writes a LATENT's samples as safetensors under output/
(COMPAT 8.3), LoadLatent reads them back from input/.

A file holds `latent_tensor` (the raw VAE latent) and an empty `latent_format_version_0`
marker; files without the marker are from before latents were stored unscaled and are
divided by SD1's scale factor 0.18215 on load. Files appear only once complete (files/atomic.py). Metadata: `prompt` (JSON, or "" without a
prompt) and one JSON entry per extra_pnginfo key, unless metadata is disabled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from comfy_core.files.atomic import atomic_path

LATENT_EXTENSION = ".latent"
VERSION_MARKER = "latent_format_version_0"
OLD_FORMAT_SCALE = 0.18215


class LatentFileError(ValueError):
    """A .latent file that cannot be read; the message names it."""


def list_latent_files(input_dir: Path) -> list[str]:
    """Sorted names of the `.latent` files directly inside `input_dir` (LoadLatent's combo)."""
    if not input_dir.is_dir():
        return []
    return sorted(p.name for p in input_dir.iterdir()
                  if p.is_file() and p.name.endswith(LATENT_EXTENSION))


def latent_metadata(prompt: Any, extra_pnginfo: Mapping[str, Any] | None) -> dict[str, str]:
    meta = {"prompt": json.dumps(prompt) if prompt is not None else ""}
    meta.update({str(k): json.dumps(v) for k, v in (extra_pnginfo or {}).items()})
    return meta


def save_latent(latent: dict, folders: Any, prefix: str, *, metadata: bool, prompt: Any = None,
                extra_pnginfo: Mapping[str, Any] | None = None) -> dict:
    """Write `<prefix>_<counter:05>_.latent`; returns its UI entry."""
    folder, filename, counter, subfolder, _ = folders.save_image_path(prefix, kind="output")
    name = f"{filename}_{counter:05}_{LATENT_EXTENSION}"
    tensors = {"latent_tensor": latent["samples"].contiguous(), VERSION_MARKER: torch.tensor([])}
    with atomic_path(folder / name) as tmp:
        save_file(tensors, str(tmp),
                  metadata=latent_metadata(prompt, extra_pnginfo) if metadata else None)
    return {"filename": name, "subfolder": subfolder, "type": "output"}


def load_latent(path: Path) -> dict:
    """A LATENT dict from a `.latent` file (old-format files rescaled)."""
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise LatentFileError(f"{path.name}: not a .latent (safetensors) file: {exc}") from exc
    if "latent_tensor" not in tensors:
        raise LatentFileError(f"{path.name}: no 'latent_tensor' in the file")
    scale = 1.0 if VERSION_MARKER in tensors else 1.0 / OLD_FORMAT_SCALE
    return {"samples": tensors["latent_tensor"].float() * scale}
