"""Tiny random ControlNets and T2I-Adapters in the public file layouts, sized to fit the
tiny checkpoints of `make_checkpoint` (same UNet config) so they apply in real workflows.

    python -m comfy_core.tools.make_checkpoint --controlnet ldm --family sd15 --out models/controlnet/cn.safetensors
    python -m comfy_core.tools.make_checkpoint --controlnet diff --family sd15 --checkpoint tiny.safetensors --out d.safetensors

Kinds: `ldm` (original single file, `control_model.` prefix), `bare` (no prefix),
`diffusers` (diffusers ControlNetModel names), `control_lora` (Stability's Control-LoRA:
LoRA pairs for the UNet encoder's layers, new biases, hint encoder and zero convs, the
`lora_controlnet` marker), `diff` (offsets from `--checkpoint`'s UNet, `difference` marker),
`union` (SDXL ProMax-style union, diffusers names), `t2i` / `t2i_xl` / `t2i_light`
(TencentARC layouts) and `t2i_diffusers` (diffusers T2IAdapter names).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from comfy_core.loading import keymaps as km
from comfy_core.loading.safetensors_io import load_state_dict, save_state_dict
from comfy_core.models.controlnet import ControlNetConfig, ControlNetModel
from comfy_core.models.family import UNetConfig
from comfy_core.models.t2i_adapter import Adapter, AdapterConfig, AdapterLight, LightConfig
from comfy_core.tools.make_checkpoint import layout, random_state

Tensors = dict[str, torch.Tensor]
UNION_TYPES = 8  # ProMax: openpose, depth, hed, canny, normal, segment, tile, repaint
LORA_RANK = 4
_RESNET = {"in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
           "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut"}


def _random(module: torch.nn.Module, seed: int) -> Tensors:
    return random_state(module, torch.Generator().manual_seed(seed), torch.float32)


def controlnet_state(family: str, seed: int = 0, union: bool = False) -> Tensors:
    """cldm weights (no prefix) for the tiny `family` UNet; zero convs random, not zero."""
    unet = layout(family, "tiny").unet
    config = ControlNetConfig(unet, union_types=UNION_TYPES if union else None, union_channels=unet.model_channels)
    with torch.device("meta"):
        network = ControlNetModel(config)
    return _random(network, seed)


def _diffusers_block_names(unet: UNetConfig) -> dict[str, str]:
    """LDM input-block prefix -> diffusers prefix for this UNet's encoder."""
    names = {"input_blocks.0.0.": "conv_in.", "middle_block.0.": "mid_block.resnets.0.",
             "middle_block.1.": "mid_block.attentions.0.", "middle_block.2.": "mid_block.resnets.1."}
    start = 1
    for b, n in enumerate(unet.num_res_blocks):
        for i in range(n):
            names[f"input_blocks.{start + i}.0."] = f"down_blocks.{b}.resnets.{i}."
            names[f"input_blocks.{start + i}.1."] = f"down_blocks.{b}.attentions.{i}."
        names[f"input_blocks.{start + n}.0.op."] = f"down_blocks.{b}.downsamplers.0.conv."
        start += n + 1
    return names


def _diffusers_key(key: str, blocks: dict[str, str]) -> str:
    fixed = {"time_embed.0.": "time_embedding.linear_1.", "time_embed.2.": "time_embedding.linear_2.",
             "label_emb.0.0.": "add_embedding.linear_1.", "label_emb.0.2.": "add_embedding.linear_2.",
             "middle_block_out.0.": "controlnet_mid_block."}
    for old, new in fixed.items():
        if key.startswith(old):
            return new + key[len(old):]
    if m := re.match(r"zero_convs\.(\d+)\.0\.(.+)$", key):
        return f"controlnet_down_blocks.{m.group(1)}.{m.group(2)}"
    if m := re.match(r"input_hint_block\.(\d+)\.(.+)$", key):
        i = int(m.group(1))
        part = "conv_in" if i == 0 else "conv_out" if i == 14 else f"blocks.{i // 2 - 1}"
        return f"controlnet_cond_embedding.{part}.{m.group(2)}"
    for old, new in sorted(blocks.items(), key=lambda kv: -len(kv[0])):
        if key.startswith(old):
            rest = key[len(old):]
            if ".resnets." in new:
                head = next((h for h in _RESNET if rest.startswith(h + ".")), None)
                rest = rest if head is None else _RESNET[head] + rest[len(head):]
            return new + rest
    return key.replace(".attn.in_proj.", ".attn.in_proj_")  # union extras


def to_diffusers(state: Tensors, family: str) -> Tensors:
    """cldm names -> diffusers ControlNetModel names (the inverse of the loader's map)."""
    blocks = _diffusers_block_names(layout(family, "tiny").unet)
    return {_diffusers_key(k, blocks): v for k, v in state.items()}


def control_lora_state(family: str, seed: int = 0) -> Tensors:
    """A Control-LoRA: rank-4 pairs for every matrix/kernel of the UNet-shared layers, new
    biases for them, the hint encoder, zero convs and middle output conv in full."""
    full = controlnet_state(family, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    out: Tensors = {"lora_controlnet": torch.tensor([])}
    for key, t in full.items():
        if not key.startswith(("time_embed.", "label_emb.", "input_blocks.", "middle_block.")):
            out[key] = t
        elif t.ndim >= 2 and key.endswith(".weight"):
            layer, kernel = key[: -len(".weight")], t.shape[2:]
            out[layer + ".up"] = torch.randn(t.shape[0], LORA_RANK, *(1,) * len(kernel), generator=gen) * 0.05
            out[layer + ".down"] = torch.randn(LORA_RANK, t.shape[1], *kernel, generator=gen) * 0.05
        elif key.endswith(".bias"):
            out[key] = t
    return out


def diff_state(family: str, checkpoint: str | Path, seed: int = 0) -> Tensors:
    """A diff ControlNet: the `ldm` ControlNet of this seed minus the checkpoint's UNet
    (where the UNet has the key), `control_model.` prefix and the `difference` marker."""
    base = km.strip_prefix(load_state_dict(checkpoint), "model.diffusion_model.")
    full = controlnet_state(family, seed)
    out = {"control_model." + k: v - base[k] if k in base else v for k, v in full.items()}
    out["difference"] = torch.tensor([])
    return out


def t2i_state(kind: str, seed: int = 0) -> Tensors:
    """TencentARC-layout adapter weights: `t2i` (SD1 full, 1x1 kernels, pooling down),
    `t2i_xl` (SDXL full) or `t2i_light`."""
    channels = (32, 64, 128, 128)
    xl = kind == "t2i_xl"
    with torch.device("meta"):
        if kind == "t2i_light":
            network: torch.nn.Module = AdapterLight(LightConfig(3 * 64, channels, blocks=2))
        else:
            network = Adapter(AdapterConfig(in_channels=3 * (256 if xl else 64), channels=channels, kernel=1, xl=xl))
    return _random(network, seed)


def t2i_to_diffusers(state: Tensors, blocks: int = 2) -> Tensors:
    """TencentARC full-adapter names -> diffusers T2IAdapter names."""
    out = {}
    for key, t in state.items():
        if m := re.match(r"body\.(\d+)\.(in_conv\..+)$", key):
            out[f"adapter.body.{int(m.group(1)) // blocks}.{m.group(2)}"] = t
        elif m := re.match(r"body\.(\d+)\.(.+)$", key):
            i = int(m.group(1))
            out[f"adapter.body.{i // blocks}.resnets.{i % blocks}.{m.group(2)}"] = t
        else:
            out["adapter." + key] = t
    return out


def build(kind: str, family: str, seed: int = 0, checkpoint: str | Path | None = None) -> Tensors:
    """The state dict of one generated file (see the module doc for the kinds)."""
    if kind in ("ldm", "bare", "diffusers", "union"):
        state = controlnet_state("sdxl" if kind == "union" else family, seed, union=kind == "union")
        if kind in ("diffusers", "union"):
            return to_diffusers(state, "sdxl" if kind == "union" else family)
        return state if kind == "bare" else {"control_model." + k: v for k, v in state.items()}
    if kind == "control_lora":
        return control_lora_state(family, seed)
    if kind == "diff":
        if checkpoint is None:
            raise ValueError("a diff ControlNet needs the checkpoint it is made from (--checkpoint)")
        return diff_state(family, checkpoint, seed)
    if kind == "t2i_diffusers":
        return t2i_to_diffusers(t2i_state("t2i", seed))
    if kind in ("t2i", "t2i_xl", "t2i_light"):
        return t2i_state(kind, seed)
    raise ValueError(f"unknown ControlNet kind {kind!r}; expected one of {list(CONTROLNET_KINDS)}")


CONTROLNET_KINDS = ("ldm", "bare", "diffusers", "control_lora", "diff", "union", "t2i", "t2i_xl", "t2i_light",
                    "t2i_diffusers")


def write_controlnet(kind: str, family: str, out: str | Path, seed: int = 0,
                     checkpoint: str | Path | None = None) -> Path:
    """Write one generated file (see `build`) to `out`."""
    path = Path(out)
    save_state_dict(build(kind, family, seed, checkpoint), path)
    return path

