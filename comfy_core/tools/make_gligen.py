"""Random-weight GLIGEN models in the public layout (`gligen_sd14_textbox_pruned`).

    python -m comfy_core.tools.make_checkpoint --gligen --out models/gligen/tiny_gligen.safetensors

Tiny models fit the tiny SD1.5 checkpoint (model_channels 32, one transformer per level
and in the middle, 32-wide text): fusers at input blocks 1 and 3, the middle block, and
output blocks 0-3; `--size full` is SD1.x's 16 fusers (320/640/1280 wide, 768-wide phrases).
The gates (alpha) are drawn non-zero, so the fusers change the UNet's output.
"""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.gligen import GatedSelfAttention, PositionNet, heads_for
from comfy_core.tools.make_checkpoint import random_state

TINY_BLOCKS = (("input_blocks.1", 32), ("input_blocks.3", 64), ("middle_block", 64),
               ("output_blocks.0", 64), ("output_blocks.1", 64), ("output_blocks.2", 32), ("output_blocks.3", 32))
FULL_BLOCKS = tuple((f"input_blocks.{i}", w) for i, w in ((1, 320), (2, 320), (4, 640), (5, 640), (7, 1280), (8, 1280))) \
    + (("middle_block", 1280),) \
    + tuple((f"output_blocks.{i}", w) for i, w in ((3, 1280), (4, 1280), (5, 1280), (6, 640), (7, 640), (8, 640),
                                                    (9, 320), (10, 320), (11, 320)))


def random_gligen_state(size: str = "tiny", seed: int = 0) -> dict[str, torch.Tensor]:
    blocks, text = (TINY_BLOCKS, 32) if size == "tiny" else (FULL_BLOCKS, 768)
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for block, width in blocks:
        heads, dim_head = heads_for(width, text)
        with torch.device("meta"):
            fuser = GatedSelfAttention(width, text, heads, dim_head)
        part = random_state(fuser, gen, torch.float32)
        part["alpha_attn"] = torch.tensor(0.5 + torch.rand((), generator=gen).item())
        part["alpha_dense"] = torch.tensor(0.5 + torch.rand((), generator=gen).item())
        state.update({f"{block}.1.transformer_blocks.0.fuser.{k}": v for k, v in part.items()})
    with torch.device("meta"):
        net = PositionNet(text, text)
    part = random_state(net, gen, torch.float32)
    state.update({f"position_net.{k}": v for k, v in part.items()})
    return state


def write_gligen(out: str | Path, size: str = "tiny", seed: int = 0) -> Path:
    save_state_dict(random_gligen_state(size, seed), out)
    return Path(out)
