"""CLIP vision weight files -> `ClipVisionModule`s, in the layouts packs ship.

- transformers' layout (`vision_model.*`, `visual_projection.weight`): ComfyUI's
  `clip_vision_g.safetensors`, IP-Adapter's ViT-H and ViT-bigG `model.safetensors`, OpenAI
  ViT-L/14 exports;
- OpenCLIP's layout (`visual.conv1.weight`, `visual.transformer.resblocks.*`, `visual.proj`),
  also inside SD 2.1 unCLIP checkpoints under `embedder.model.visual.`.

Every size is read from the weights. Two things are not: the attention heads (16 for CLIP
ViT-L, ViT-H and ViT-bigG, width/64 for smaller towers) and the activation (quick GELU for
the OpenAI ViT-L/14 shape, 24 layers of width 1024; GELU for OpenCLIP towers), as ComfyUI
decides them from the layer count.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch

from comfy_core.loading import keymaps as km
from comfy_core.loading.checkpoint import Checkpoint, checkpoint_from_state, materialize
from comfy_core.loading.describe import describe_weights
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.models.clip_vision import ClipVisionModule, VisionConfig
from comfy_core.models.clip_vision_value import ClipVisionModel

Tensors = dict[str, torch.Tensor]

HF_PROBE = "vision_model.embeddings.patch_embedding.weight"
OPENCLIP_PROBE = "transformer.resblocks.0.attn.in_proj_weight"
UNCLIP_PREFIX = "embedder.model.visual."
SIGLIP_WIDTH = 1152
_OPENCLIP_TOP = {
    "class_embedding": "vision_model.embeddings.class_embedding",
    "conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "ln_pre.weight": "vision_model.pre_layrnorm.weight",
    "ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "ln_post.weight": "vision_model.post_layernorm.weight",
    "ln_post.bias": "vision_model.post_layernorm.bias",
}


class ClipVisionError(CheckpointError):
    """A file that is not a usable CLIP vision encoder; the message names the file."""


def openclip_visual_to_hf(state: Tensors) -> Tensors:
    """OpenCLIP `visual.*` keys (prefix removed) -> transformers' vision keys. The
    transformer blocks share the text tower's conversion (fused qkv split in three)."""
    out = {_OPENCLIP_TOP[k]: v for k, v in state.items() if k in _OPENCLIP_TOP}
    if "proj" in state:
        out["visual_projection.weight"] = state["proj"].t().contiguous()
    blocks = km.openclip_to_hf({k: v for k, v in state.items() if k.startswith("transformer.resblocks.")})
    out.update({k.replace("text_model.encoder.", "vision_model.encoder.", 1): v for k, v in blocks.items()})
    return out


def hf_to_openclip_visual(state: Tensors) -> Tensors:
    """Inverse of `openclip_visual_to_hf` (writes unCLIP checkpoints' vision towers)."""
    inverse = {v: k for k, v in _OPENCLIP_TOP.items()}
    out = {inverse[k]: v for k, v in state.items() if k in inverse}
    if "visual_projection.weight" in state:
        out["proj"] = state["visual_projection.weight"].t().contiguous()
    layers = {k.replace("vision_model.encoder.", "text_model.encoder.", 1): v
              for k, v in state.items() if k.startswith("vision_model.encoder.")}
    out.update(km.hf_to_openclip(layers))
    return out


def to_hf_layout(state: Tensors, prefix: str = "") -> Tensors:
    """The CLIP vision tensors of `state` under `prefix`, in transformers' layout."""
    part = km.strip_prefix(state, prefix) if prefix else dict(state)
    if OPENCLIP_PROBE in part or "conv1.weight" in part:
        return openclip_visual_to_hf(part)
    if "visual." + OPENCLIP_PROBE in part:
        return openclip_visual_to_hf(km.strip_prefix(part, "visual."))
    return {k: v for k, v in part.items() if not k.endswith("position_ids")}


def _layer_count(state: Tensors) -> int:
    rx = re.compile(r"vision_model\.encoder\.layers\.(\d+)\.")
    return len({m.group(1) for k in state if (m := rx.match(k))})


def _heads(width: int) -> int:
    """CLIP ViT-L/H/bigG use 16 heads (64, 80, 104 wide); ViT-B and smaller width/64."""
    return 16 if width >= 1024 and width % 16 == 0 else max(1, width // 64)


def vision_config(state: Tensors, what: str) -> VisionConfig:
    """The config of a transformers-layout vision state dict; errors name `what`."""
    if HF_PROBE not in state or "visual_projection.weight" not in state:
        raise ClipVisionError(f"{what}: expected a CLIP vision encoder ('vision_model.*' and "
                              f"'visual_projection.weight', or OpenCLIP 'visual.*' keys), got "
                              f"{_describe(state)}")
    patch = state[HF_PROBE]  # (D, 3, p, p)
    width, size = int(patch.shape[0]), int(patch.shape[-1])
    if width == SIGLIP_WIDTH:
        raise ClipVisionError(f"{what}: a SigLIP image encoder (width 1152, e.g. for Flux Redux); "
                              f"SD1.x/SD2.x/SDXL workflows need a CLIP ViT-L/H/bigG encoder")
    positions = int(state["vision_model.embeddings.position_embedding.weight"].shape[0])
    grid = math.isqrt(positions - 1)
    if grid * grid != positions - 1:
        raise ClipVisionError(f"{what}: {positions} position embeddings is not a square patch grid plus one")
    layers = _layer_count(state)
    openai_l = layers == 24 and width == 1024
    return VisionConfig(
        hidden_size=width,
        intermediate_size=int(state["vision_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
        num_layers=layers,
        num_heads=_heads(width),
        image_size=grid * size,
        patch_size=size,
        projection_dim=int(state["visual_projection.weight"].shape[0]),
        hidden_act="quick_gelu" if openai_l else "gelu",
    )


def _describe(state: Tensors) -> str:
    keys = set(state)
    if any(".layer_scale1." in k or ".layer_scale2." in k for k in keys):
        return "a DINOv2 image encoder"
    return describe_weights(keys)


def clip_vision_module(state: Tensors, what: str, dtype: torch.dtype | None = None) -> ClipVisionModule:
    """Build the module for a transformers-layout state dict (extra keys are ignored)."""
    cfg = vision_config(state, what)
    keep = {k: v for k, v in state.items() if k.startswith(("vision_model.", "visual_projection."))}
    return materialize(lambda: ClipVisionModule(cfg), keep, dtype, f"{what} (CLIP vision)")


def load_clip_vision_state(path: str | Path) -> tuple[Tensors, str]:
    """(transformers-layout tensors, file name) of a CLIP vision file in either layout."""
    path = Path(path)
    return to_hf_layout(load_state_dict(path)), path.name


def clip_vision_model(state: Tensors, what: str, *, dtype: torch.dtype | None = None,
                      load_device: torch.device | str | None = None,
                      offload_device: torch.device | str | None = None) -> ClipVisionModel:
    """The CLIP_VISION value of a transformers-layout state dict."""
    return ClipVisionModel(clip_vision_module(state, what, dtype), load_device, offload_device)


def load_clip_vision(path: str | Path, *, dtype: torch.dtype | None = None,
                     device: torch.device | str | None = None,
                     load_device: torch.device | str | None = None) -> ClipVisionModel:
    """CLIPVisionLoader: a CLIP vision file in either layout; `device` is where the weights
    rest, `load_device` where they compute."""
    path = Path(path)
    device = torch.device(device or "cpu")
    state = to_hf_layout(load_state_dict(path, device))
    return clip_vision_model(state, path.name, dtype=dtype, load_device=load_device or device, offload_device=device)


def load_unclip_checkpoint(path: str | Path, *, clip_vision_device: torch.device | str | None = None,
                           **checkpoint_kwargs: Any) -> tuple[Checkpoint, ClipVisionModel]:
    """unCLIPCheckpointLoader: the checkpoint's MODEL, CLIP and VAE plus the CLIP vision
    tower stored with it (OpenCLIP layout under `embedder.model.visual.`)."""
    path = Path(path)
    device = torch.device(checkpoint_kwargs.get("device") or "cpu")
    state = load_state_dict(path, device)
    if not any(k.startswith(UNCLIP_PREFIX) for k in state):
        raise ClipVisionError(f"{path.name}: expected an unCLIP checkpoint with its CLIP vision model "
                              f"('{UNCLIP_PREFIX}*' keys, e.g. SD 2.1 unCLIP); got {describe_weights(state)} "
                              f"without one (load it with CheckpointLoaderSimple)")
    vision = to_hf_layout(state, UNCLIP_PREFIX)
    checkpoint = checkpoint_from_state(state, path.name, **checkpoint_kwargs)
    model = clip_vision_model(vision, path.name, dtype=checkpoint_kwargs.get("clip_dtype"),
                              load_device=clip_vision_device or device, offload_device=device)
    return checkpoint, model
