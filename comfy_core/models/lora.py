"""LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") as weight
patches: W' = W + strength * (alpha / rank) * (up @ down) (COMPAT 10.2); LyCORIS LoHa, LoKr
and full-diff adapters under the same names come from `comfy_core.models.lycoris`.

Names understood: kohya (`lora_unet_*`, `lora_te_*`, `lora_te1_*`, `lora_te2_*`, LoCon convs
with `lora_mid`), LyCORIS `lycoris_*`, diffusers / PEFT module paths (optionally `unet.` /
`text_encoder.` / `text_encoder_2.` prefixed, `.processor.to_q`), and the generic
`diffusion_model.<path>` / `text_encoders.<name>.transformer.<path>` forms.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Mapping

import torch

from comfy_core.models.family import UNetConfig
from comfy_core.models.lycoris import MatchedAdapter, parse_lycoris
from comfy_core.models.clip_value import CLIP
from comfy_core.models.patch_math import WeightAdapter
from comfy_core.models.patcher import ModelPatcher

log = logging.getLogger(__name__)

UP_DOWN_SUFFIXES = (
    (".lora_up.weight", ".lora_down.weight"),
    ("_lora.up.weight", "_lora.down.weight"),
    (".lora_B.weight", ".lora_A.weight"),
    (".lora.up.weight", ".lora.down.weight"),
    (".lora_linear_layer.up.weight", ".lora_linear_layer.down.weight"),
    (".lora_B.default.weight", ".lora_A.default.weight"),
)
_RESNET_PARTS = (("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("emb_layers.1", "time_emb_proj"),
                 ("out_layers.0", "norm2"), ("out_layers.3", "conv2"), ("skip_connection", "conv_shortcut"))
_TOP_LEVEL = {"time_embed.0": "time_embedding.linear_1", "time_embed.2": "time_embedding.linear_2",
              "label_emb.0.0": "add_embedding.linear_1", "label_emb.0.2": "add_embedding.linear_2",
              "input_blocks.0.0": "conv_in", "out.0": "conv_norm_out", "out.2": "conv_out"}


@dataclass(frozen=True, eq=False)
class LoraDelta(WeightAdapter):
    """One adapted weight: up (out, r[, 1, 1]), down (r, in[, kh, kw]), optional Tucker
    core `mid` (r, r, kh, kw) of LoCon, and alpha (None: scale 1)."""

    up: torch.Tensor
    down: torch.Tensor
    alpha: float | None = None
    mid: torch.Tensor | None = None

    def numel(self) -> int:
        kernel = self.mid.shape[2:].numel() if self.mid is not None else self.down.shape[2:].numel()
        return self.up.shape[0] * self.down.shape[1] * kernel

    def delta(self, weight: torch.Tensor) -> torch.Tensor:
        up = self.up.to(weight.device, torch.float32).flatten(1)  # (out, r)
        down = self.down.to(weight.device, torch.float32)
        if self.mid is not None:
            mid = self.mid.to(weight.device, torch.float32)
            down = torch.einsum("rskl,si->rikl", mid, down.flatten(1))  # (r, in, kh, kw)
        scale = 1.0 if self.alpha is None else self.alpha / self.down.shape[0]
        return (up @ down.flatten(1)).reshape(weight.shape) * scale


def _diffusers_blocks(cfg: UNetConfig) -> dict[str, tuple[str, bool]]:
    """LDM block path -> (diffusers path, is_resnet) for every UNet block."""
    table: dict[str, tuple[str, bool]] = {}
    levels, idx = len(cfg.channel_mult), 1
    for lv in range(levels):
        for j in range(cfg.num_res_blocks[lv]):
            table[f"input_blocks.{idx}.0"] = (f"down_blocks.{lv}.resnets.{j}", True)
            table[f"input_blocks.{idx}.1"] = (f"down_blocks.{lv}.attentions.{j}", False)
            idx += 1
        if lv != levels - 1:
            table[f"input_blocks.{idx}.0.op"] = (f"down_blocks.{lv}.downsamplers.0.conv", False)
            idx += 1
    table["middle_block.0"] = ("mid_block.resnets.0", True)
    table["middle_block.1"] = ("mid_block.attentions.0", False)
    table["middle_block.2"] = ("mid_block.resnets.1", True)
    idx = 0
    for u, lv in enumerate(reversed(range(levels))):
        for j in range(cfg.num_res_blocks[lv] + 1):
            table[f"output_blocks.{idx}.0"] = (f"up_blocks.{u}.resnets.{j}", True)
            has_attn = cfg.transformer_depth_output[idx] > 0
            if has_attn:
                table[f"output_blocks.{idx}.1"] = (f"up_blocks.{u}.attentions.{j}", False)
            if lv and j == cfg.num_res_blocks[lv]:
                table[f"output_blocks.{idx}.{2 if has_attn else 1}.conv"] = (f"up_blocks.{u}.upsamplers.0.conv", False)
            idx += 1
    return table


def _to_diffusers(path: str, blocks: dict[str, tuple[str, bool]]) -> str | None:
    if path in _TOP_LEVEL:
        return _TOP_LEVEL[path]
    m = re.match(r"((?:input|output)_blocks\.\d+\.\d+(?:\.op|\.conv)?|middle_block\.\d+)(?:\.(.*))?$", path)
    if not m or m.group(1) not in blocks:
        return None
    base, resnet = blocks[m.group(1)]
    rest = m.group(2) or ""
    if resnet:
        rest = next((new + rest[len(old):] for old, new in _RESNET_PARTS if rest.startswith(old)), rest)
    return f"{base}.{rest}" if rest else base


def unet_key_map(model: ModelPatcher) -> dict[str, str]:
    """LoRA base names -> the MODEL's state-dict keys (`diffusion_model.<path>.weight`)."""
    out: dict[str, str] = {}
    base = model.model
    blocks = _diffusers_blocks(base.family.unet)
    for name, _ in base.diffusion_model.named_parameters():
        if not name.endswith(".weight"):
            continue
        path, key = name[: -len(".weight")], f"diffusion_model.{name}"
        flat = path.replace(".", "_")
        out.update({f"lora_unet_{flat}": key, f"lycoris_{flat}": key, f"diffusion_model.{path}": key})
        d = _to_diffusers(path, blocks)
        if d is None:
            continue
        out.update({f"lora_unet_{d.replace('.', '_')}": key, d: key, f"unet.{d}": key})
        m = re.match(r"(.*\.attn[12])\.(to_[qkv]|to_out\.0)$", d)
        if m:
            proc = f"{m.group(1)}.processor.{m.group(2).removesuffix('.0')}"
            out.update({proc: key, f"unet.{proc}": key, d.removesuffix(".0"): key})
    return out


def clip_key_map(clip: CLIP) -> dict[str, str]:
    """LoRA base names -> the CLIP's state-dict keys (`<encoder>.transformer.text_model....weight`)."""
    out: dict[str, str] = {}
    sdxl = clip.family.adm == "sdxl"
    for name, encoder in clip.encoders.items():
        kohya = ("lora_te1" if name == "clip_l" else "lora_te2") if sdxl else "lora_te"
        diffusers = "text_encoder_2" if sdxl and name == "clip_g" else "text_encoder"
        for param, _ in encoder.named_parameters():
            if not param.endswith(".weight"):
                continue
            path, key = param[: -len(".weight")], f"{name}.transformer.{param}"
            out.update({f"{kohya}_{path.replace('.', '_')}": key, f"{diffusers}.{path}": key,
                        f"text_encoders.{name}.transformer.{path}": key})
    return out


def _parse_pairs(state: Mapping[str, torch.Tensor], key_map: Mapping[str, str]) -> list[MatchedAdapter]:
    """LoRA / LoCon up-down pairs (with optional alpha and `lora_mid`)."""
    found: list[MatchedAdapter] = []
    for key in state:
        for up_suffix, down_suffix in UP_DOWN_SUFFIXES:
            if not key.endswith(up_suffix):
                continue
            base = key[: -len(up_suffix)]
            target, down = key_map.get(base), state.get(base + down_suffix)
            if target is not None and down is not None:
                alpha = state.get(base + ".alpha")
                delta = LoraDelta(state[key], down, None if alpha is None else float(alpha),
                                  state.get(base + ".lora_mid.weight"))
                keys = (key, base + down_suffix, base + ".alpha", base + ".lora_mid.weight")
                found.append(MatchedAdapter(target, delta, tuple(k for k in keys if k in state)))
            break
    return found


def parse_lora(state: Mapping[str, torch.Tensor], key_map: Mapping[str, str]) -> tuple[list[MatchedAdapter], list[str]]:
    """Adapters (LoRA, LoCon, LoHa, LoKr, diff) whose base names are in `key_map`, and the
    file's keys that matched nothing. A later adapter for the same target replaces an earlier."""
    found = _parse_pairs(state, key_map) + parse_lycoris(state, key_map)
    used = {k for m in found for k in m.keys}
    return found, [k for k in state if k not in used]


def _patches_for(
    patcher: ModelPatcher, tag: str, found: list[MatchedAdapter]
) -> tuple[dict[str, WeightAdapter], list[str]]:
    """Deltas for the patcher's parameters (targets tagged `tag`), checked for size, and the
    file keys of adapters whose target parameter does not exist (e.g. a bias-free layer)."""
    params = dict(patcher.model.named_parameters())
    deltas: dict[str, WeightAdapter] = {}
    missing: list[str] = []
    for m in found:
        if not m.target.startswith(tag):
            continue
        key = m.target[len(tag):]
        if key not in params:
            missing.extend(m.keys)
            continue
        if m.delta.numel() != math.prod(params[key].shape):  # shape: the logical one of quantized tensors
            raise ValueError(f"LoRA weights {', '.join(m.keys)} make {m.delta.numel()} values, "
                             f"but {key} has shape {tuple(params[key].shape)}")
        deltas[key] = m.delta
    return deltas, missing


def apply_lora(
    model: ModelPatcher | None,
    clip: CLIP | None,
    state: Mapping[str, torch.Tensor],
    strength_model: float = 1.0,
    strength_clip: float = 1.0,
) -> tuple[ModelPatcher | None, CLIP | None, list[str]]:
    """LoraLoader: clones of `model`/`clip` with the LoRA added, and the unmatched keys."""
    key_map: dict[str, str] = {}
    if model is not None:
        key_map.update({k: "model:" + v for k, v in unet_key_map(model).items()})
    if clip is not None:
        key_map.update({k: "clip:" + v for k, v in clip_key_map(clip).items()})
    found, unmatched = parse_lora(state, key_map)
    outputs: list = []
    for handle, tag, strength in ((model, "model:", strength_model), (clip, "clip:", strength_clip)):
        if handle is None:
            outputs.append(None)
            continue
        deltas, missing = _patches_for(handle.patcher if isinstance(handle, CLIP) else handle, tag, found)
        unmatched += missing
        twin = handle.clone()
        twin.add_patches(deltas, strength)
        outputs.append(twin)
    for key in unmatched:
        log.warning("lora key not loaded: %s", key)
    return outputs[0], outputs[1], unmatched
