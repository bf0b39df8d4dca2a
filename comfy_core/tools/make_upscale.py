"""Tiny random-weight upscale models in public single-file layouts spandrel recognises.

    python -m comfy_core.tools.make_checkpoint --upscale esrgan --out models/upscale_models/tiny_x4.safetensors
    python -m comfy_core.tools.make_checkpoint --upscale compact --out models/upscale_models/tiny_x2.safetensors

- `esrgan`: ESRGAN / Real-ESRGAN RRDBNet in BasicSR's layout (`conv_first`,
  `body.N.rdbK.convJ`, `conv_body`, `conv_up1`, `conv_up2`, `conv_hr`, `conv_last`), x4.
- `compact`: Real-ESRGAN's SRVGGNetCompact (`body.0` conv, `body.1` PReLU, ..., a last conv
  with C·s² outputs before the pixel shuffle), x2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from comfy_core.loading.safetensors_io import save_state_dict

Shapes = dict[str, tuple[int, ...]]


def _conv(shapes: Shapes, name: str, out_ch: int, in_ch: int, k: int = 3) -> None:
    shapes[f"{name}.weight"] = (out_ch, in_ch, k, k)
    shapes[f"{name}.bias"] = (out_ch,)


def esrgan_shapes(features: int = 8, growth: int = 32, blocks: int = 1, channels: int = 3) -> Shapes:
    """RRDBNet x4 (two nearest-upsample convs): every residual-in-residual dense block has
    three dense blocks of five convs, the k-th taking features + (k-1)·growth channels
    (growth is 32 in every public ESRGAN file, and loaders assume it)."""
    shapes: Shapes = {}
    _conv(shapes, "conv_first", features, channels)
    for b in range(blocks):
        for r in range(1, 4):
            for k in range(1, 6):
                out = features if k == 5 else growth
                _conv(shapes, f"body.{b}.rdb{r}.conv{k}", out, features + (k - 1) * growth)
    for name in ("conv_body", "conv_up1", "conv_up2", "conv_hr"):
        _conv(shapes, name, features, features)
    _conv(shapes, "conv_last", channels, features)
    return shapes


def compact_shapes(features: int = 8, convs: int = 2, scale: int = 2, channels: int = 3) -> Shapes:
    """SRVGGNetCompact: conv, PReLU, `convs` x (conv, PReLU), conv to C·scale² channels."""
    shapes: Shapes = {}
    _conv(shapes, "body.0", features, channels)
    shapes["body.1.weight"] = (features,)
    for i in range(convs):
        _conv(shapes, f"body.{2 + 2 * i}", features, features)
        shapes[f"body.{3 + 2 * i}.weight"] = (features,)
    _conv(shapes, f"body.{2 + 2 * convs}", channels * scale * scale, features)
    return shapes


UPSCALE_KINDS: dict[str, Callable[[], Shapes]] = {"esrgan": esrgan_shapes, "compact": compact_shapes}


def random_weights(shapes: Shapes, seed: int = 0) -> dict[str, torch.Tensor]:
    """Normal(0, 0.02) weights and biases; PReLU slopes 0.25 as in freshly built layers."""
    gen = torch.Generator().manual_seed(seed)
    return {key: torch.full(shape, 0.25) if _is_prelu(key, shapes) else torch.randn(shape, generator=gen) * 0.02
            for key, shape in shapes.items()}


def _is_prelu(key: str, shapes: Shapes) -> bool:
    """A 1-D weight without a matching bias is a PReLU slope."""
    return key.endswith(".weight") and key.replace(".weight", ".bias") not in shapes


def write_upscale_model(kind: str, out: str | Path, seed: int = 0) -> Path:
    """Write a tiny `kind` model ("esrgan" or "compact") to `out`."""
    if kind not in UPSCALE_KINDS:
        raise ValueError(f"unknown upscale model kind {kind!r}; expected one of {sorted(UPSCALE_KINDS)}")
    path = Path(out)
    save_state_dict(random_weights(UPSCALE_KINDS[kind](), seed), path)
    return path
