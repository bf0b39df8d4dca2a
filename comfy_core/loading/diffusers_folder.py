"""Diffusers-format model folders (a `model_index.json` with `unet/`, `vae/`,
`text_encoder/` and, for SDXL, `text_encoder_2/`) read into our single-file layout, so
DiffusersLoader's models take the same detection and loading path as checkpoints.

Key conversion of the UNet (diffusers -> LDM), per level b with n_b resnets:
  conv_in -> input_blocks.0.0; down_blocks.b.resnets.l -> input_blocks.(s_b + l).0 and
  .attentions.l -> input_blocks.(s_b + l).1, with s_b = 1 + sum over earlier levels of
  (n + 1); down_blocks.b.downsamplers.0.conv -> input_blocks.(s_b + n_b).0.op;
  mid_block.resnets.0/attentions.0/resnets.1 -> middle_block.0/1/2; up_blocks.b.resnets.l
  (and .attentions.l) -> output_blocks.(u_b + l).0 (.1), u_b = sum of earlier levels' m;
  up_blocks.b.upsamplers.0.conv -> the last output block of the level, after its attention;
  time_embedding.linear_1/2 -> time_embed.0/2, add_embedding (or class_embedding)
  .linear_1/2 -> label_emb.0.0/2,
  conv_norm_out/conv_out -> out.0/out.2. Inside resnets norm1, conv1, time_emb_proj, norm2,
  conv2, conv_shortcut become in_layers.0, in_layers.2, emb_layers.1, out_layers.0,
  out_layers.3, skip_connection; attention blocks keep their names.
Text encoders (Hugging Face layout) go under the checkpoint's CLIP prefixes; the VAE keeps
its diffusers names (the VAE loader converts them). Only safetensors weights are read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from comfy_core.files.safe import is_within
from comfy_core.loading import keymaps as km
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict

MODEL_INDEX = "model_index.json"
_WEIGHT_NAMES = {"unet": "diffusion_pytorch_model", "vae": "diffusion_pytorch_model",
                 "text_encoder": "model", "text_encoder_2": "model"}
_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
           "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
_TOP = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2", "add_embedding.linear_1": "label_emb.0.0",
        "add_embedding.linear_2": "label_emb.0.2", "class_embedding.linear_1": "label_emb.0.0",
        "class_embedding.linear_2": "label_emb.0.2", "conv_norm_out": "out.0", "conv_out": "out.2"}


def weights_file(folder: Path, part: str) -> Path | None:
    """The safetensors weights of one component (fp32 preferred over fp16), or None when
    the component is absent; pickle-only components are refused by name."""
    directory = folder / part
    if not directory.is_dir():
        return None
    stem = _WEIGHT_NAMES[part]
    for name in (f"{stem}.safetensors", f"{stem}.fp16.safetensors"):
        if (directory / name).is_file():
            return directory / name
    if any(directory.glob("*.bin")):
        raise CheckpointError(f"{folder.name}/{part}: only pickle (.bin) weights; convert them to "
                              ".safetensors (pickle files can run code when loaded)")
    raise CheckpointError(f"{folder.name}/{part}: no {stem}.safetensors")


def _count(state: dict, pattern: str) -> dict[int, int]:
    """{level: number of distinct indices} for keys matching `pattern` (level, index)."""
    found: dict[int, set[int]] = {}
    for key in state:
        m = re.match(pattern, key)
        if m:
            found.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    return {level: len(ids) for level, ids in found.items()}


def _block_map(state: dict) -> dict[str, str]:
    """diffusers block prefix -> LDM block prefix for this UNet's layout."""
    downs = _count(state, r"down_blocks\.(\d+)\.resnets\.(\d+)\.")
    ups = _count(state, r"up_blocks\.(\d+)\.resnets\.(\d+)\.")
    up_attn = _count(state, r"up_blocks\.(\d+)\.attentions\.(\d+)\.")
    out: dict[str, str] = {}
    start = 1
    for b in sorted(downs):
        for i in range(downs[b]):
            out[f"down_blocks.{b}.resnets.{i}."] = f"input_blocks.{start + i}.0."
            out[f"down_blocks.{b}.attentions.{i}."] = f"input_blocks.{start + i}.1."
        out[f"down_blocks.{b}.downsamplers.0.conv."] = f"input_blocks.{start + downs[b]}.0.op."
        start += downs[b] + 1
    start = 0
    for b in sorted(ups):
        for i in range(ups[b]):
            out[f"up_blocks.{b}.resnets.{i}."] = f"output_blocks.{start + i}.0."
            out[f"up_blocks.{b}.attentions.{i}."] = f"output_blocks.{start + i}.1."
        slot = 2 if up_attn.get(b) else 1
        out[f"up_blocks.{b}.upsamplers.0.conv."] = f"output_blocks.{start + ups[b] - 1}.{slot}.conv."
        start += ups[b]
    out.update({"mid_block.resnets.0.": "middle_block.0.", "mid_block.attentions.0.": "middle_block.1.",
                "mid_block.resnets.1.": "middle_block.2."})
    return out


def diffusers_unet_to_ldm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A diffusers UNet2DConditionModel state dict with LDM key names (see the module doc)."""
    blocks = _block_map(state)
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        new = None
        for old, ldm in _TOP.items():
            if key.startswith(old + "."):
                new = ldm + key[len(old):]
        for old, ldm in blocks.items():
            if key.startswith(old):
                rest = key[len(old):]
                if ".resnets." in old:
                    head, _, tail = rest.partition(".")
                    rest = f"{_RESNET.get(head, head)}.{tail}"
                new = ldm + rest
        if new is None:
            raise CheckpointError(f"unet: key {key!r} has no place in an SD UNet")
        out[new] = tensor
    return out


def read_folder(folder: str | Path, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """The folder's weights as one single-file-layout state dict (UNet, VAE, text encoders)."""
    folder = Path(folder)
    if not (folder / MODEL_INDEX).is_file():
        raise CheckpointError(f"{folder.name}: no {MODEL_INDEX}: not a diffusers model folder")
    index = json.loads((folder / MODEL_INDEX).read_text(encoding="utf-8"))
    unet_file = weights_file(folder, "unet")
    if unet_file is None:
        raise CheckpointError(f"{folder.name}: no unet/ folder")
    state = {f"{km.UNET_PREFIXES[0]}{k}": v for k, v in
             diffusers_unet_to_ldm(load_state_dict(unet_file, device)).items()}
    vae_file = weights_file(folder, "vae")
    if vae_file is not None:
        state.update({f"{km.VAE_PREFIX}{k}": v for k, v in load_state_dict(vae_file, device).items()})
    for part, prefix in _text_encoder_prefixes(folder, index, state).items():
        path = weights_file(folder, part)
        if path is not None:
            state.update({f"{prefix}{k}": v for k, v in load_state_dict(path, device).items()})
    return state


def _text_encoder_prefixes(folder: Path, index: dict, state: dict) -> dict[str, str]:
    """Where each text encoder goes: SDXL's two (the refiner has only the second), else one
    CLIP-L (SD1.x) or CLIP-H (SD2, whose UNet projects linearly, as detection tells them)."""
    first = "text_encoder" in index or (folder / "text_encoder").is_dir()
    if "text_encoder_2" in index or (folder / "text_encoder_2").is_dir():
        if not first:
            return {"text_encoder_2": km.REFINER_CLIP_G_PREFIX}
        return {"text_encoder": km.SDXL_CLIP_L_PREFIX, "text_encoder_2": km.SDXL_CLIP_G_PREFIX}
    return {"text_encoder": km.CLIP_H_PREFIX if _linear_projections(state) else km.CLIP_L_PREFIX}


def resolve_folder(roots: list[Path], name: str) -> Path:
    """The model folder `name` (relative, as the diffusers folder list gives it) under the
    first root holding it; names leaving their root are refused."""
    if not name or Path(name).is_absolute() or "\x00" in name:
        raise CheckpointError(f"invalid diffusers model name {name!r}")
    for root in roots:
        candidate = root / name
        if (candidate / MODEL_INDEX).is_file() and is_within(root, candidate):
            return candidate
    raise CheckpointError(f"diffusers model {name!r} not found (a folder with {MODEL_INDEX} "
                          "under models/diffusers)")


def _linear_projections(state: dict[str, torch.Tensor]) -> bool:
    """Whether the UNet's transformers project with linear layers: SD2 (CLIP-H), not SD1."""
    return any(k.endswith("proj_in.weight") and t.ndim == 2 for k, t in state.items())
