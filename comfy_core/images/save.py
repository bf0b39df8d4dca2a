"""Writing IMAGE batches as numbered PNGs (SaveImage, PreviewImage; COMPAT 8.2-8.3)."""

from __future__ import annotations

import random
from typing import Any, Mapping

import torch

from comfy_core.images.convert import tensor_to_pil
from comfy_core.images.png import build_pnginfo, save_png

PREVIEW_SUFFIX_ALPHABET = "abcdefghijklmnopqrstupvxyz"  # sic: ComfyUI's alphabet


def preview_prefix_suffix(rng: random.Random | None = None) -> str:
    """`_temp_` plus 5 random letters: PreviewImage's per-instance prefix suffix."""
    pick = (rng or random.Random()).choice
    return "_temp_" + "".join(pick(PREVIEW_SUFFIX_ALPHABET) for _ in range(5))


def save_image_batch(images: torch.Tensor, folders: Any, prefix: str, *, kind: str,
                     compress_level: int, metadata: bool, prompt: Any = None,
                     extra_pnginfo: Mapping[str, Any] | None = None) -> list[dict]:
    """Save `[B, H, W, C]` as `<name>_<counter:05>_.png` files; return the UI entries.

    `folders` is a `comfy_core.files.FolderPaths`; `kind` is "output" or "temp"; `metadata`
    False writes no text chunks (--disable-metadata).
    """
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"expected an IMAGE batch [B, H, W, C], got {tuple(images.shape)}")
    height, width = int(images.shape[1]), int(images.shape[2])
    folder, filename, counter, subfolder, _ = folders.save_image_path(
        prefix, width, height, kind=kind)
    pnginfo = build_pnginfo(prompt, extra_pnginfo) if metadata else None
    results = []
    for batch_number, image in enumerate(images):
        name = f"{filename.replace('%batch_num%', str(batch_number))}_{counter:05}_.png"
        save_png(tensor_to_pil(image), folder / name, pnginfo, compress_level)
        results.append({"filename": name, "subfolder": subfolder, "type": kind})
        counter += 1
    return results
