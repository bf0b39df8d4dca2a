"""Key conversions of ControlNet and T2I-Adapter files into the layouts our networks use.

diffusers ControlNetModel / ControlNetUnionModel -> LDM "cldm": the UNet-like part
(conv_in, time/add embeddings, down blocks, mid block) as in `diffusers_folder`;
`controlnet_down_blocks.i` -> `zero_convs.i.0`, `controlnet_mid_block` -> `middle_block_out.0`,
`controlnet_cond_embedding.conv_in / blocks.k / conv_out` -> `input_hint_block.0 / 2(k+1) / 14`;
union extras keep their names except the fused attention projection
(`attn.in_proj_weight` -> `attn.in_proj.weight`).

diffusers T2IAdapter -> TencentARC: full adapters `adapter.body.i.resnets.j` -> `body.(i·n+j)`
(and the level's `in_conv` onto its first block), light adapters `adapter.body.i.resnets.j`
-> `body.i.body.j`; `adapter.` dropped.
"""

from __future__ import annotations

import re

import torch

from comfy_core.loading.diffusers_folder import diffusers_unet_to_ldm

Tensors = dict[str, torch.Tensor]

DIFFUSERS_CONTROLNET_PROBE = "controlnet_cond_embedding.conv_in.weight"
UNION_KEYS = ("task_embedding", "transformer_layes.", "spatial_ch_projs.", "control_add_embedding.")
_UNET_PARTS = ("conv_in.", "time_embedding.", "add_embedding.", "class_embedding.", "down_blocks.", "mid_block.")


def _hint_block_key(key: str) -> str | None:
    """`controlnet_cond_embedding.*` -> `input_hint_block.N.*` (None for other keys)."""
    m = re.match(r"controlnet_cond_embedding\.(conv_in|conv_out|blocks\.(\d+))\.(weight|bias)$", key)
    if m is None:
        return None
    part, block, kind = m.groups()
    index = 0 if part == "conv_in" else 14 if part == "conv_out" else 2 * (int(block) + 1)
    return f"input_hint_block.{index}.{kind}"


def diffusers_controlnet_to_ldm(state: Tensors) -> Tensors:
    """A diffusers ControlNet (plain or union) state dict with cldm key names."""
    unet_part = {k: v for k, v in state.items() if k.startswith(_UNET_PARTS)}
    out = diffusers_unet_to_ldm(unet_part)
    for key, tensor in state.items():
        if key.startswith(_UNET_PARTS):
            continue
        if (hint := _hint_block_key(key)) is not None:
            out[hint] = tensor
        elif m := re.match(r"controlnet_down_blocks\.(\d+)\.(weight|bias)$", key):
            out[f"zero_convs.{m.group(1)}.0.{m.group(2)}"] = tensor
        elif m := re.match(r"controlnet_mid_block\.(weight|bias)$", key):
            out[f"middle_block_out.0.{m.group(1)}"] = tensor
        elif key.startswith(UNION_KEYS):
            out[key.replace(".attn.in_proj_", ".attn.in_proj.")] = tensor
        else:
            raise KeyError(f"key {key!r} has no place in a ControlNet")
    return out


def is_diffusers_t2i(state: Tensors) -> bool:
    return any(k.startswith("adapter.body.") for k in state)


def diffusers_t2i_to_tencent(state: Tensors) -> Tensors:
    """A diffusers T2IAdapter (full, full XL or light) state dict with TencentARC names."""
    light = any(re.match(r"adapter\.body\.\d+\.out_conv\.", k) for k in state)
    blocks = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"adapter\.body\.\d+\.resnets\.(\d+)\.", k)))
    out: Tensors = {}
    for key, tensor in state.items():
        m = re.match(r"adapter\.body\.(\d+)\.(?:resnets\.(\d+)\.)?(.+)$", key)
        if m is None:
            out[key.removeprefix("adapter.")] = tensor
            continue
        level, block, rest = int(m.group(1)), m.group(2), m.group(3)
        if light:
            out[f"body.{level}." + (f"body.{block}.{rest}" if block is not None else rest)] = tensor
        else:
            out[f"body.{level * blocks + int(block or 0)}.{rest}"] = tensor
    return out
