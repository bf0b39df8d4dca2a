"""Hypernetworks in the A1111 format: per attention width (320, 640, 768, 1280) two small
MLPs that add to the tokens the attention's keys and values are projected from,
k' = k + s·mlp_k(k), v' = v + s·mlp_v(v), in self- and cross-attention alike (the width
of the tokens picks the pair). Applied as the UNet's attn1/attn2 patches, as ComfyUI does.

Each MLP is the file's `linear.N` layers in order: Linear layers with the named activation
between them (and after the last with `activate_output`), each followed by a LayerNorm
with `is_layer_norm`. Dropout layers are inference no-ops and are not built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import nn

ACTIVATIONS: Mapping[str, type[nn.Module]] = {
    "linear": nn.Identity, "relu": nn.ReLU, "leakyrelu": nn.LeakyReLU, "elu": nn.ELU, "swish": nn.Hardswish,
    "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softsign": nn.Softsign, "mish": nn.Mish,
}


@dataclass(frozen=True)
class HypernetworkSettings:
    """The A1111 file's options (only these two change inference)."""

    activation_func: str = "linear"
    is_layer_norm: bool = False
    activate_output: bool = False


def build_mlp(layers: Sequence[Mapping[str, torch.Tensor]], settings: HypernetworkSettings) -> nn.Sequential:
    """An MLP from the file's parameter groups in order ({"weight", "bias"} each): Linear
    layers, each followed by its LayerNorm group when `is_layer_norm`."""
    act = ACTIVATIONS[settings.activation_func]
    modules: list[nn.Module] = []
    groups = list(layers)
    step = 2 if settings.is_layer_norm else 1
    linears = groups[::step]
    for i, group in enumerate(linears):
        weight = group["weight"]
        linear = nn.Linear(weight.shape[1], weight.shape[0])
        linear.load_state_dict({"weight": weight, "bias": group["bias"]})
        modules.append(linear)
        last = i == len(linears) - 1
        if settings.activation_func != "linear" and (not last or settings.activate_output):
            modules.append(act())
        if settings.is_layer_norm:
            norm_group = groups[i * 2 + 1]
            norm = nn.LayerNorm(norm_group["weight"].shape[0])
            norm.load_state_dict({"weight": norm_group["weight"], "bias": norm_group["bias"]})
            modules.append(norm)
    return nn.Sequential(*modules).eval().requires_grad_(False)


class HypernetworkPatch:
    """The attn1/attn2 patch: `(q, k, v, extra_options) -> (q, k', v')` for the widths the
    hypernetwork has."""

    def __init__(self, mlps: Mapping[int, tuple[nn.Module, nn.Module]], strength: float) -> None:
        self.hypernet = {dim: nn.ModuleList(pair) for dim, pair in mlps.items()}
        self.strength = strength

    def __call__(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                 extra_options: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pair = self.hypernet.get(k.shape[-1])
        if pair is not None:
            k = k + pair[0](k) * self.strength
            v = v + pair[1](v) * self.strength
        return q, k, v

    def to(self, target: torch.device | torch.dtype) -> "HypernetworkPatch":
        """Move (device) or cast (dtype) the MLPs; the sampler calls this at load."""
        for dim in self.hypernet:
            self.hypernet[dim] = self.hypernet[dim].to(target)
        return self

    def models(self) -> list:
        return []
