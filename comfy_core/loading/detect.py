"""Which family a checkpoint is, from key names and tensor shapes only (COMPAT 10.1).

Every size is read from the weights, so a tiny random test checkpoint and a real one take
the same path. Family rules use structure, not absolute widths: a class-label embedding
(`label_emb.weight`) means the SD 2.x x4 upscaler (whose UNet also takes 3 image channels
after the latent), a 4-wide ADM input Lotus-D (its task switcher), another ADM input SD 2.1
unCLIP when the first level has attention, else SDXL (refiner when its deepest level has no
attention; an SDXL base samples as its file's marker keys say, `loading.markers`), linear
transformer projections mean SD2 (v-prediction by the norm-bias heuristic), otherwise SD1.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Mapping

import torch

from comfy_core.loading.markers import MarkerError, apply_sdxl_markers
from comfy_core.models.family import (LOTUS, LOTUS_TASK_WIDTH, SD2_EPS, SD2_V, SD15, SD21_UNCLIP, SD_X4_UPSCALER,
                                     SDXL, SDXL_REFINER, ModelFamily, UNetConfig)
from comfy_core.models.vae import VAEConfig

V_PRED_STD = 0.09


class DetectionError(ValueError):
    """The weights do not look like any supported model part."""


def _count(state: dict[str, torch.Tensor], pattern: str) -> int:
    """Number of distinct values of the single group in `pattern` over the keys."""
    rx = re.compile(pattern)
    return len({m.group(1) for k in state if (m := rx.match(k))})


def _attn_depth(state: dict[str, torch.Tensor], block: str) -> int:
    return _count(state, re.escape(block) + r"\.1\.transformer_blocks\.(\d+)\.")


def unet_config(state: dict[str, torch.Tensor], heads: UNetConfig) -> UNetConfig:
    """Read a UNet config from `state` (prefix removed); head settings come from `heads`."""
    if "input_blocks.0.0.weight" not in state:
        raise DetectionError("no 'input_blocks.0.0.weight': not an LDM UNet")
    mc, in_ch = state["input_blocks.0.0.weight"].shape[:2]
    n_in = _count(state, r"input_blocks\.(\d+)\.")
    levels: list[list[int]] = [[]]
    for i in range(1, n_in):
        if f"input_blocks.{i}.0.op.weight" in state:
            levels.append([])
        else:
            levels[-1].append(i)
    mult = tuple(state[f"input_blocks.{lv[0]}.0.in_layers.2.weight"].shape[0] // mc for lv in levels)
    ctx_keys = [k for k in state if k.endswith("transformer_blocks.0.attn2.to_k.weight")]
    proj = [k for k in state if k.endswith(".proj_in.weight")]
    adm = state.get("label_emb.0.0.weight")
    labels = state.get("label_emb.weight")  # nn.Embedding(num_classes, time_embed_dim)
    return dataclasses.replace(
        heads,
        in_channels=int(in_ch),
        # ControlNets copy only the encoder: no output layer, same channels as the input.
        out_channels=int(state["out.2.weight"].shape[0]) if "out.2.weight" in state else int(in_ch),
        model_channels=int(mc),
        channel_mult=mult,
        num_res_blocks=tuple(len(lv) for lv in levels),
        transformer_depth=tuple(_attn_depth(state, f"input_blocks.{i}") for lv in levels for i in lv),
        transformer_depth_output=tuple(
            _attn_depth(state, f"output_blocks.{i}") for i in range(_count(state, r"output_blocks\.(\d+)\."))
        ),
        transformer_depth_middle=_attn_depth(state, "middle_block"),
        context_dim=int(state[ctx_keys[0]].shape[1]) if ctx_keys else heads.context_dim,
        use_linear_in_transformer=bool(proj) and state[proj[0]].ndim == 2,
        adm_in_channels=None if adm is None else int(adm.shape[1]),
        num_classes=None if labels is None else int(labels.shape[0]),
    )


def _is_v_prediction(state: dict[str, torch.Tensor], cfg: UNetConfig) -> bool:
    """SD2 768-v vs 512-base: the spread of the last output attention's norm1 bias."""
    last = max((i for i, d in enumerate(cfg.transformer_depth_output) if d > 0), default=None)
    bias = state.get(f"output_blocks.{last}.1.transformer_blocks.0.norm1.bias")
    return cfg.in_channels == 4 and bias is not None and float(bias.float().std()) > V_PRED_STD


def detect_family(unet_state: dict[str, torch.Tensor],
                  markers: Mapping[str, torch.Tensor] | None = None) -> ModelFamily:
    """Family of a UNet state dict (prefix removed). `markers` is the file's own top-level
    tensors (the whole state dict of a single file): an SDXL base UNet's sampling follows
    its marker keys (`loading.markers`)."""
    probe = unet_config(unet_state, SD15.unet)
    if probe.num_classes is not None:
        family = _x4_upscaler(probe)
    elif probe.adm_in_channels == LOTUS_TASK_WIDTH:
        family = _lotus(probe)
    elif probe.adm_in_channels is not None and probe.transformer_depth[0] > 0:
        family = SD21_UNCLIP  # SD2's UNet (attention from the first level on) with an ADM input
    elif probe.adm_in_channels is not None:
        deepest = probe.transformer_depth[-probe.num_res_blocks[-1] :]
        family = SDXL if any(deepest) else SDXL_REFINER
        if family is SDXL:
            family = _with_markers(family, markers or {})
    elif probe.use_linear_in_transformer:
        family = SD2_EPS
    else:
        family = SD15
    cfg = unet_config(unet_state, family.unet)
    if family is SD2_EPS and _is_v_prediction(unet_state, cfg):
        family = SD2_V
    elif family is SD21_UNCLIP:
        family = dataclasses.replace(family, prediction="v" if _is_v_prediction(unet_state, cfg) else "eps")
    return dataclasses.replace(family, unet=cfg)


def _with_markers(family: ModelFamily, markers: Mapping[str, torch.Tensor]) -> ModelFamily:
    try:
        return apply_sdxl_markers(family, markers)
    except MarkerError as exc:
        raise DetectionError(str(exc)) from exc


def _x4_upscaler(probe: UNetConfig) -> ModelFamily:
    """The only UNet with a class-label embedding we know: the x4 upscaler's (latent + RGB in)."""
    want = SD_X4_UPSCALER.latent.latent_channels + 3
    if probe.in_channels != want or probe.out_channels != SD_X4_UPSCALER.latent.latent_channels:
        raise DetectionError(
            f"a UNet with a class-label embedding ('label_emb.weight') and {probe.in_channels} input / "
            f"{probe.out_channels} output channels; the only such model supported is the SD 2.x x4 upscaler "
            f"({want} inputs: 4 latent + 3 image channels, 4 outputs)")
    return SD_X4_UPSCALER


def _lotus(probe: UNetConfig) -> ModelFamily:
    """A 4-wide ADM input is Lotus's task switcher; Lotus-D's UNet is SD2's (linear
    projections) on the plain latent (the generative Lotus-G, which also takes noise, is not
    supported, as in ComfyUI)."""
    latent = LOTUS.latent.latent_channels
    if not probe.use_linear_in_transformer or probe.in_channels != latent or probe.out_channels != latent:
        raise DetectionError(
            f"a UNet with a {LOTUS_TASK_WIDTH}-wide ADM input (Lotus's task switcher) but "
            f"{probe.in_channels} input / {probe.out_channels} output channels and "
            f"{'linear' if probe.use_linear_in_transformer else 'convolutional'} transformer projections; "
            f"the only such model supported is Lotus-D (SD2's UNet, {latent} in and out)")
    return LOTUS


def vae_config(state: dict[str, torch.Tensor]) -> VAEConfig:
    """Read an LDM-layout VAE config from `state` (prefix removed)."""
    if "encoder.conv_in.weight" not in state or "decoder.conv_in.weight" not in state:
        raise DetectionError("no 'encoder.conv_in.weight'/'decoder.conv_in.weight': not a KL VAE")
    ch, in_ch = state["encoder.conv_in.weight"].shape[:2]
    n_levels = _count(state, r"encoder\.down\.(\d+)\.")
    mult = tuple(state[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] // ch for i in range(n_levels))
    return VAEConfig(
        ch=int(ch),
        ch_mult=mult,
        num_res_blocks=_count(state, r"encoder\.down\.0\.block\.(\d+)\."),
        z_channels=int(state["decoder.conv_in.weight"].shape[1]),
        embed_dim=int(state["post_quant_conv.weight"].shape[1]),
        in_channels=int(in_ch),
        out_channels=int(state["decoder.conv_out.weight"].shape[0]),
    )
