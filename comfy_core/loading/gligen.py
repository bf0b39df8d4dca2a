"""GLIGEN files (GLIGENLoader): the fusers and position net of a GLIGEN grounding model."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from comfy_core.loading import keymaps as km
from comfy_core.loading.checkpoint import materialize
from comfy_core.loading.describe import describe_weights
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.models.gligen import GatedSelfAttention, Gligen, PositionNet, heads_for

_FUSER = re.compile(r"(input_blocks|middle_block|output_blocks)\.(\d+)\.(.*)\.fuser\.(.+)$")
_ORDER = {"input_blocks": 0, "middle_block": 1, "output_blocks": 2}
_POSITION_PROBE = "position_net.null_positive_feature"


def _fuser_groups(state: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """The fuser tensors per transformer block, in UNet order (input, middle, output)."""
    groups: dict[tuple, dict[str, torch.Tensor]] = {}
    for key, t in state.items():
        if m := _FUSER.match(key):
            place = (_ORDER[m.group(1)], int(m.group(2)), m.group(3))
            groups.setdefault(place, {})[m.group(4)] = t
    return [groups[k] for k in sorted(groups)]


def load_gligen(path: str | Path) -> Gligen:
    """A GLIGEN model; files without fusers or a position net are refused naming the file."""
    path = Path(path)
    state = load_state_dict(path)
    if any(k.startswith(km.UNET_PREFIXES[0]) for k in state):
        state = km.strip_prefix(state, km.UNET_PREFIXES[0]) | {k: v for k, v in state.items()
                                                                if k.startswith("position_net.")}
    groups = _fuser_groups(state)
    if not groups or _POSITION_PROBE not in state:
        raise CheckpointError(f"{path.name}: expected a GLIGEN model ('position_net.*' and "
                              f"'input_blocks.N.1.transformer_blocks.0.fuser.*'), got {describe_weights(state)}")
    fusers = []
    for n, group in enumerate(groups):
        query_dim, key_dim = group["linear.weight"].shape
        heads, dim_head = heads_for(int(query_dim), int(key_dim))
        fusers.append(materialize(lambda q=int(query_dim), k=int(key_dim), h=heads, d=dim_head:
                                  GatedSelfAttention(q, k, h, d), group, torch.float32, f"{path.name} (fuser {n})"))
    position = km.strip_prefix(state, "position_net.")
    in_dim = int(position["null_positive_feature"].shape[0])
    out_dim = int(position["linears.4.weight"].shape[0])
    net = materialize(lambda: PositionNet(in_dim, out_dim), position, torch.float32, f"{path.name} (position net)")
    return Gligen(fusers, net, in_dim).eval()
