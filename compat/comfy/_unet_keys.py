"""The SD UNet's diffusers <-> LDM key names (`comfy.utils` re-exports them: packs build
their own maps from these tables, e.g. for temporal or ControlNet variants).

Tables: UNET_MAP_RESNET {LDM resnet part: diffusers part}, UNET_MAP_ATTENTIONS (the
spatial transformer's own weights, same names in both), TRANSFORMER_BLOCKS (one
transformer block's weights, same names), UNET_MAP_BASIC {(LDM key, diffusers key)} for the
stem, embeddings and head. `unet_to_diffusers(unet_config)` lays them over a UNet config
in ComfyUI's form and gives {diffusers key: LDM key}.
"""

from __future__ import annotations

from typing import Any

UNET_MAP_ATTENTIONS = {f"{part}.{kind}" for part in ("proj_in", "proj_out", "norm")
                       for kind in ("weight", "bias")}
TRANSFORMER_BLOCKS = (
    {f"norm{i}.{kind}" for i in (1, 2, 3) for kind in ("weight", "bias")}
    | {f"attn{a}.to_{p}.weight" for a in (1, 2) for p in ("q", "k", "v")}
    | {f"attn{a}.to_out.0.{kind}" for a in (1, 2) for kind in ("weight", "bias")}
    | {f"ff.net.0.proj.{kind}" for kind in ("weight", "bias")}
    | {f"ff.net.2.{kind}" for kind in ("weight", "bias")}
)
_RESNET_PARTS = {"in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
                 "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut"}
UNET_MAP_RESNET = {f"{ldm}.{kind}": f"{ours}.{kind}" for ldm, ours in _RESNET_PARTS.items()
                   for kind in ("weight", "bias")}
_BASIC_PARTS = (("input_blocks.0.0", "conv_in"), ("time_embed.0", "time_embedding.linear_1"),
                ("time_embed.2", "time_embedding.linear_2"), ("label_emb.0.0", "class_embedding.linear_1"),
                ("label_emb.0.2", "class_embedding.linear_2"), ("label_emb.0.0", "add_embedding.linear_1"),
                ("label_emb.0.2", "add_embedding.linear_2"), ("out.0", "conv_norm_out"),
                ("out.2", "conv_out"))
UNET_MAP_BASIC = {(f"{ldm}.{kind}", f"{ours}.{kind}") for ldm, ours in _BASIC_PARTS
                  for kind in ("weight", "bias")}


def _per_level(value: Any, levels: int) -> list[int]:
    return list(value) if isinstance(value, (list, tuple)) else [int(value)] * levels


def _resnet(out: dict, diffusers: str, ldm: str) -> None:
    for ldm_part, ours in UNET_MAP_RESNET.items():
        out[f"{diffusers}.{ours}"] = f"{ldm}.{ldm_part}"


def _attention(out: dict, diffusers: str, ldm: str, depth: int) -> None:
    if depth <= 0:
        return
    for part in UNET_MAP_ATTENTIONS:
        out[f"{diffusers}.{part}"] = f"{ldm}.{part}"
    for t in range(depth):
        for part in TRANSFORMER_BLOCKS:
            out[f"{diffusers}.transformer_blocks.{t}.{part}"] = f"{ldm}.transformer_blocks.{t}.{part}"


def _conv(out: dict, diffusers: str, ldm: str) -> None:
    for kind in ("weight", "bias"):
        out[f"{diffusers}.{kind}"] = f"{ldm}.{kind}"


def unet_to_diffusers(unet_config: dict) -> dict[str, str]:
    """{diffusers key: LDM key} for a UNet config with ComfyUI's fields: channel_mult,
    num_res_blocks (per level or one number), transformer_depth (per input res block),
    transformer_depth_output (per output block), transformer_depth_middle."""
    levels = len(unet_config["channel_mult"])
    res = _per_level(unet_config["num_res_blocks"], levels)
    depth_in = list(unet_config.get("transformer_depth") or [0] * sum(res))
    depth_out = list(unet_config.get("transformer_depth_output") or [0] * (sum(res) + levels))
    out: dict[str, str] = {}
    block, res_index = 1, 0
    for level in range(levels):  # input side: resnets (+ attention), then a downsampler
        for i in range(res[level]):
            _resnet(out, f"down_blocks.{level}.resnets.{i}", f"input_blocks.{block}.0")
            _attention(out, f"down_blocks.{level}.attentions.{i}", f"input_blocks.{block}.1",
                       depth_in[res_index])
            block, res_index = block + 1, res_index + 1
        if level < levels - 1:
            _conv(out, f"down_blocks.{level}.downsamplers.0.conv", f"input_blocks.{block}.0.op")
            block += 1
    _resnet(out, "mid_block.resnets.0", "middle_block.0")
    _attention(out, "mid_block.attentions.0", "middle_block.1",
               int(unet_config.get("transformer_depth_middle", 1) or 0))
    _resnet(out, "mid_block.resnets.1", "middle_block.2")
    block = 0
    for up in range(levels):  # output side, deepest level first: one more resnet each
        count = res[levels - 1 - up] + 1
        for i in range(count):
            depth = depth_out[block]
            _resnet(out, f"up_blocks.{up}.resnets.{i}", f"output_blocks.{block}.0")
            _attention(out, f"up_blocks.{up}.attentions.{i}", f"output_blocks.{block}.1", depth)
            if i == count - 1 and up < levels - 1:
                slot = 2 if depth > 0 else 1
                _conv(out, f"up_blocks.{up}.upsamplers.0.conv", f"output_blocks.{block}.{slot}.conv")
            block += 1
    for ldm, diffusers in UNET_MAP_BASIC:
        out[diffusers] = ldm
    return out
