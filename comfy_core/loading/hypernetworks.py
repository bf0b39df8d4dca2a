"""Hypernetwork files (HypernetworkLoader), safetensors only.

A1111 saves hypernetworks as pickles: `{768: [mlp_k_state, mlp_v_state], 320: [...], ...,
"activation_func": "relu", "is_layer_norm": False, ...}`. The safetensors form is that dict
flattened: tensors `<width>.<0|1>.linear.<n>.<weight|bias>` (0 the key MLP, 1 the value
MLP, n the module index in the MLP), the options as string metadata (`activation_func`,
`is_layer_norm`, `activate_output`, `use_dropout`, `last_layer_dropout`; "true"/"false").
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from comfy_core.loading.describe import describe_weights
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.models.hypernetwork import ACTIVATIONS, HypernetworkPatch, HypernetworkSettings, build_mlp

_KEY = re.compile(r"^(\d+)\.([01])\.linear\.(\d+)\.(weight|bias)$")
LAYOUT_HINT = "'<width>.<0|1>.linear.<n>.weight' tensors and the options as metadata"


def _flag(metadata: dict[str, str], name: str) -> bool:
    return str(metadata.get(name, "false")).strip().lower() in ("true", "1", "yes")


def read_settings(path: Path) -> HypernetworkSettings:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path.name}: not a valid safetensors file: {exc}") from exc
    activation = metadata.get("activation_func", "linear")
    if activation not in ACTIVATIONS:
        raise CheckpointError(f"{path.name}: unsupported hypernetwork activation {activation!r}; "
                              f"known: {sorted(ACTIVATIONS)}")
    return HypernetworkSettings(activation, _flag(metadata, "is_layer_norm"), _flag(metadata, "activate_output"))


def _groups(state: dict[str, torch.Tensor], path: Path) -> dict[int, list[list[dict[str, torch.Tensor]]]]:
    """{width: [key-MLP groups, value-MLP groups]}, each group {"weight", "bias"} in module order."""
    found: dict[int, list[dict[int, dict[str, torch.Tensor]]]] = {}
    for key, t in state.items():
        m = _KEY.match(key)
        if m is None:
            raise CheckpointError(f"{path.name}: unexpected tensor {key!r} for a hypernetwork ({LAYOUT_HINT}); "
                                  f"the file looks like {describe_weights(state)}")
        width, which, index, kind = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        found.setdefault(width, [{}, {}])[which].setdefault(index, {})[kind] = t
    if not found:
        raise CheckpointError(f"{path.name}: expected a hypernetwork ({LAYOUT_HINT}), got {describe_weights(state)}")
    return {w: [[mlp[i] for i in sorted(mlp)] for mlp in pair] for w, pair in found.items()}


def load_hypernetwork(path: str | Path, strength: float) -> HypernetworkPatch:
    """The attn1/attn2 patch of a hypernetwork file at `strength`."""
    path = Path(path)
    state = load_state_dict(path)
    settings = read_settings(path)
    mlps = {}
    for width, (k_groups, v_groups) in _groups(state, path).items():
        try:
            mlps[width] = (build_mlp(k_groups, settings), build_mlp(v_groups, settings))
        except (KeyError, IndexError, RuntimeError) as exc:
            raise CheckpointError(f"{path.name}: the {width}-wide MLPs do not fit the options "
                                  f"(is_layer_norm={settings.is_layer_norm}): {exc}") from exc
        if k_groups[0]["weight"].shape[1] != width or k_groups[-1]["weight"].shape[0] != width:
            raise CheckpointError(f"{path.name}: the {width}-wide MLPs do not map {width} features to {width}")
    return HypernetworkPatch(mlps, strength)
