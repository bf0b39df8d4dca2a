"""Key-name conversions between checkpoint layouts and our modules.

The UNet and LDM VAE need none (module names follow the keys); these cover OpenCLIP text
encoders (SD2 clip_h, SDXL clip_g) <-> the Hugging Face CLIP layout, old SD1 CLIP keys
without `text_model.`, and diffusers-format VAE files -> the LDM layout.
"""

from __future__ import annotations

import re
from collections import Counter

import torch

UNET_PREFIXES = ("model.diffusion_model.", "model.model.", "net.")
CLIP_L_PREFIX = "cond_stage_model.transformer."
CLIP_H_PREFIX = "cond_stage_model.model."
SDXL_CLIP_L_PREFIX = "conditioner.embedders.0.transformer."
SDXL_CLIP_G_PREFIX = "conditioner.embedders.1.model."
REFINER_CLIP_G_PREFIX = "conditioner.embedders.0.model."
VAE_PREFIX = "first_stage_model."

_OPENCLIP_LAYER = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
    "attn.out_proj": "self_attn.out_proj",
}


def checkpoint_clip_prefixes(adm: str | None) -> dict[str, str]:
    """Where each text encoder of a family (by its ADM kind) sits in a single-file checkpoint."""
    if adm == "sdxl":
        return {"clip_l": SDXL_CLIP_L_PREFIX, "clip_g": SDXL_CLIP_G_PREFIX}
    if adm == "sdxl_refiner":
        return {"clip_g": REFINER_CLIP_G_PREFIX}
    return {"clip_l": CLIP_L_PREFIX, "clip_h": CLIP_H_PREFIX}


def unet_prefix(keys: list[str]) -> str | None:
    """The most common UNet prefix with more than 5 keys (COMPAT 10.1), else None."""
    counts = Counter(p for k in keys for p in UNET_PREFIXES if k.startswith(p))
    prefix, n = counts.most_common(1)[0] if counts else (None, 0)
    return prefix if n > 5 else None


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def openclip_to_hf(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenCLIP text tower keys (prefix removed) -> HF CLIPTextModelWithProjection keys."""
    out: dict[str, torch.Tensor] = {}
    for key, t in state.items():
        m = re.match(r"transformer\.resblocks\.(\d+)\.(.+)\.(weight|bias)$", key)
        if m:
            i, part, kind = m.groups()
            if part in _OPENCLIP_LAYER:
                out[f"text_model.encoder.layers.{i}.{_OPENCLIP_LAYER[part]}.{kind}"] = t
            continue
        m = re.match(r"transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$", key)
        if m:
            i, kind = m.groups()
            for name, chunk in zip(("q_proj", "k_proj", "v_proj"), t.chunk(3, dim=0)):
                out[f"text_model.encoder.layers.{i}.self_attn.{name}.{kind}"] = chunk.clone()
        elif key == "token_embedding.weight":
            out["text_model.embeddings.token_embedding.weight"] = t
        elif key == "positional_embedding":
            out["text_model.embeddings.position_embedding.weight"] = t
        elif key.startswith("ln_final."):
            out["text_model.final_layer_norm." + key.split(".", 1)[1]] = t
        elif key == "text_projection":
            out["text_projection.weight"] = t.t().contiguous()
    return out


def hf_to_openclip(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of `openclip_to_hf` (used to write checkpoints in the real layout)."""
    out: dict[str, torch.Tensor] = {}
    inverse = {v: k for k, v in _OPENCLIP_LAYER.items()}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    for key, t in state.items():
        m = re.match(r"text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$", key)
        if m:
            i, part, kind = m.groups()
            if part in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
                qkv.setdefault((i, kind), {})[part[10]] = t
            else:
                out[f"transformer.resblocks.{i}.{inverse[part]}.{kind}"] = t
        elif key == "text_model.embeddings.token_embedding.weight":
            out["token_embedding.weight"] = t
        elif key == "text_model.embeddings.position_embedding.weight":
            out["positional_embedding"] = t
        elif key.startswith("text_model.final_layer_norm."):
            out["ln_final." + key.rsplit(".", 1)[1]] = t
        elif key == "text_projection.weight":
            out["text_projection"] = t.t().contiguous()
    for (i, kind), parts in qkv.items():
        out[f"transformer.resblocks.{i}.attn.in_proj_{kind}"] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def clip_to_hf(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An OpenAI-CLIP state (prefix removed), with or without `text_model.`, -> HF keys."""
    out = {}
    for key, t in state.items():
        if key.endswith("position_ids"):
            continue
        if not key.startswith(("text_model.", "text_projection")):
            key = "text_model." + key
        out[key] = t
    return out


def is_openclip(state: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith("transformer.resblocks.") for k in state)


def diffusers_vae_to_ldm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """diffusers AutoencoderKL keys -> LDM `encoder.down.0.block.0...` keys; attention
    projections stored as linear layers are reshaped to 1x1 convolutions."""
    n_up = 1 + max((int(m.group(1)) for k in state if (m := re.match(r"decoder\.up_blocks\.(\d+)\.", k))), default=-1)
    out: dict[str, torch.Tensor] = {}
    for key, t in state.items():
        new = key
        new = re.sub(r"down_blocks\.(\d+)\.resnets\.", r"down.\1.block.", new)
        new = re.sub(r"down_blocks\.(\d+)\.downsamplers\.0\.", r"down.\1.downsample.", new)
        new = re.sub(r"up_blocks\.(\d+)\.resnets\.", lambda m: f"up.{n_up - 1 - int(m.group(1))}.block.", new)
        new = re.sub(r"up_blocks\.(\d+)\.upsamplers\.0\.", lambda m: f"up.{n_up - 1 - int(m.group(1))}.upsample.", new)
        new = re.sub(r"mid_block\.resnets\.(\d)\.", lambda m: f"mid.block_{int(m.group(1)) + 1}.", new)
        new = new.replace("mid_block.attentions.0.", "mid.attn_1.")
        for old, rep in (("conv_norm_out", "norm_out"), ("conv_shortcut", "nin_shortcut"), ("group_norm", "norm"),
                         ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out"),
                         ("query", "q"), ("key", "k"), ("value", "v"), ("proj_attn", "proj_out")):
            if "attn_1" in new or old in ("conv_norm_out", "conv_shortcut"):
                new = new.replace(f".{old}.", f".{rep}.")
        if "attn_1" in new and new.endswith(".weight") and t.ndim == 2:
            t = t[:, :, None, None]
        out[new] = t
    return out


def is_diffusers_vae(state: dict[str, torch.Tensor]) -> bool:
    return any(k.startswith(("encoder.down_blocks.", "decoder.up_blocks.")) for k in state)
