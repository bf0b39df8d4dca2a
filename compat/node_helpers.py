"""`node_helpers`: small helpers ComfyUI's own nodes and many packs share
(COMPAT-PLUGINS 6.1)."""

from __future__ import annotations

import hashlib
from typing import Any, Callable

import torch
from PIL import Image, ImageFile, UnidentifiedImageError

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def conditioning_set_values(conditioning: list, values: dict | None = None,
                            append: bool = False) -> list:
    """A new CONDITIONING whose entries carry `values` (with `append`, each value is added
    to a present list/tensor value instead of replacing it); inputs are not modified."""
    values = values or {}
    out = []
    for tensor, options in conditioning:
        options = options.copy()
        for key, value in values.items():
            old = options.get(key)
            options[key] = old + value if append and old is not None else value
        out.append([tensor, options])
    return out


def pillow(fn: Callable, arg: Any) -> Any:
    """`fn(arg)`, retried once with truncated images allowed when Pillow refuses it."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        return fn(arg)
    except (OSError, UnidentifiedImageError, ValueError):
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        return fn(arg)
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def hasher() -> Callable:
    """The hash constructor `args.default_hashing_function` names (sha256 by default)."""
    from comfy.cli_args import args

    return getattr(hashlib, str(getattr(args, "default_hashing_function", "sha256")),
                   hashlib.sha256)


def string_to_torch_dtype(string: str) -> torch.dtype | None:
    return _DTYPES.get(string)


def image_alpha_fix(destination: torch.Tensor, source: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Equal channel counts for IMAGE `[B, H, W, C]` pairs: the 3-channel one gets an
    opaque alpha channel."""
    if destination.shape[-1] < source.shape[-1]:
        destination = _with_alpha(destination, source.shape[-1])
    elif destination.shape[-1] > source.shape[-1]:
        source = _with_alpha(source, destination.shape[-1])
    return destination, source


def _with_alpha(image: torch.Tensor, channels: int) -> torch.Tensor:
    pad = torch.ones(image.shape[:-1] + (channels - image.shape[-1],), dtype=image.dtype,
                     device=image.device)
    return torch.cat([image, pad], dim=-1)


__all__ = ["Image", "conditioning_set_values", "hasher", "image_alpha_fix", "pillow",
           "string_to_torch_dtype"]
