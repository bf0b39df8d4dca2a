"""Random-weight hypernetworks in the safetensors form of the A1111 format
(`comfy_core.loading.hypernetworks`).

    python -m comfy_core.tools.make_checkpoint --hypernetwork --out models/hypernetworks/tiny_hn.safetensors

Tiny ones cover the tiny SD1.5 checkpoint's attention widths (32 and 64 wide self-attention,
32-wide text); `--size full` covers SD1.x (320, 640, 768, 1280). Layer structure 1-2-1 with
ReLU and LayerNorm, as A1111 trains by default with layer norm on.
"""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_core.loading.safetensors_io import save_state_dict


def _mlp(width: int, gen: torch.Generator, prefix: str, layer_norm: bool) -> dict[str, torch.Tensor]:
    out, index = {}, 0
    for fan_in, fan_out in ((width, 2 * width), (2 * width, width)):
        out[f"{prefix}.linear.{index}.weight"] = torch.randn(fan_out, fan_in, generator=gen) * 0.5 * fan_in ** -0.5
        out[f"{prefix}.linear.{index}.bias"] = torch.randn(fan_out, generator=gen) * 0.02
        index += 2  # A1111's Sequential: Linear, activation, (LayerNorm), ...
        if layer_norm:
            out[f"{prefix}.linear.{index}.weight"] = 1.0 + 0.1 * torch.randn(fan_out, generator=gen)
            out[f"{prefix}.linear.{index}.bias"] = 0.1 * torch.randn(fan_out, generator=gen)
            index += 1
    return out


def random_hypernetwork_state(size: str = "tiny", seed: int = 0, layer_norm: bool = True) -> dict[str, torch.Tensor]:
    widths = (32, 64) if size == "tiny" else (320, 640, 768, 1280)
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for width in widths:
        for which in (0, 1):
            state.update(_mlp(width, gen, f"{width}.{which}", layer_norm))
    return state


def write_hypernetwork(out: str | Path, size: str = "tiny", seed: int = 0, layer_norm: bool = True) -> Path:
    metadata = {"activation_func": "relu", "is_layer_norm": str(layer_norm).lower(), "activate_output": "false",
                "use_dropout": "false", "last_layer_dropout": "false"}
    save_state_dict(random_hypernetwork_state(size, seed, layer_norm), out, metadata=metadata)
    return Path(out)
