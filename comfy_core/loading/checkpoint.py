"""load_checkpoint / load_unet / load_vae / load_clip: weight files -> MODEL (ModelPatcher
over a BaseModel), CLIP and VAE values.

Modules are built on the meta device (no random init) and take the file's tensors with
`load_state_dict(assign=True)`; missing weights are an error naming the file.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import torch
from torch import nn

from comfy_core.loading import keymaps as km
from comfy_core.loading.detect import DetectionError, detect_family, vae_config
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.loading.options import LoadDevices
from comfy_core.models.base_model import base_model_for, family_model_sampling
from comfy_core.models.clip import ClipConfig, TextEncoder
from comfy_core.models.clip_value import CLIP
from comfy_core.models.family import ModelFamily, TextEncoderSpec
from comfy_core.models.ops import build_with_operations
from comfy_core.models.patcher import ModelPatcher
from comfy_core.models.unet import UNetModel
from comfy_core.models.vae import AutoencoderKL
from comfy_core.models.vae_value import VAE

log = logging.getLogger(__name__)
M = TypeVar("M", bound=nn.Module)
Tensors = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Checkpoint:
    """What CheckpointLoaderSimple outputs, plus the detected family."""

    model: ModelPatcher
    clip: CLIP | None
    vae: VAE | None
    family: ModelFamily


def _file_dtype(state: Tensors) -> torch.dtype:
    counts = Counter(t.dtype for t in state.values() if t.is_floating_point())
    return counts.most_common(1)[0][0] if counts else torch.float32


def materialize(factory: Callable[[], M], state: Tensors, dtype: torch.dtype | None, what: str,
                operations: Any = None) -> M:
    """Build `factory()` without initialising weights and load `state` into it. With a
    plugin's `operations` (ComfyUI's custom_operations) the layers are those classes and
    the tensors load as given (they may be quantized)."""
    with torch.device("meta"):
        module = factory()
    if operations is not None:
        build_with_operations(module, operations)
    else:
        dtype = dtype or _file_dtype(state)
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    missing, unexpected = module.load_state_dict(state, strict=False, assign=True)
    if missing:
        raise CheckpointError(f"{what}: {len(missing)} weights missing, e.g. {missing[:3]}")
    if unexpected:
        log.warning("%s: %d unused weights, e.g. %s", what, len(unexpected), unexpected[:3])
    if any(t.is_meta for t in list(module.parameters()) + list(module.buffers())):
        raise CheckpointError(f"{what}: some tensors were not loaded")
    return module.eval().requires_grad_(False)


def model_patcher(unet: UNetModel, family: ModelFamily, load_device: torch.device, offload_device: torch.device,
                  compute_dtype: torch.dtype | None = None) -> ModelPatcher:
    """The MODEL value of a loaded UNet: a BaseModel with the family's model sampling;
    `compute_dtype` is the model's own manual-cast dtype (fp8 storage computed wider)."""
    base = base_model_for(family, unet, family_model_sampling(family), offload_device, manual_cast_dtype=compute_dtype)
    return ModelPatcher(base, load_device, offload_device)


# Keys of ComfyUI's quantized UNet formats: the legacy scaled-fp8 sentinel and per-layer
# scales, and the per-layer format tensors of its mixed-precision files.
QUANTIZED_SENTINEL = "scaled_fp8"
QUANTIZED_SUFFIXES = (".scale_weight", ".weight_scale", ".comfy_quant")


def _refuse_quantized(state: Tensors, what: str) -> None:
    """Quantized weights need their scales applied; loading them as plain weights would
    sample garbage without a word, so such a file is refused by name."""
    found = next((k for k in state if k == QUANTIZED_SENTINEL or k.endswith(QUANTIZED_SUFFIXES)), None)
    if found is not None:
        raise CheckpointError(f"{what}: quantized UNet weights (scaled fp8 / mixed precision, e.g. {found!r}) "
                              "are not supported; use an unquantized (fp16/bf16/fp32 or plain fp8) file")


def _unet_handle(state: Tensors, markers: Tensors, dtype: torch.dtype | None, device: torch.device,
                 load_device: torch.device, what: str, compute_dtype: torch.dtype | None = None,
                 operations: Any = None) -> ModelPatcher:
    if operations is None:
        _refuse_quantized(state, what)
    try:
        family = detect_family(state, markers)
    except DetectionError as exc:
        raise CheckpointError(f"Could not detect model type of: {what} ({exc})") from exc
    unet = materialize(lambda: UNetModel(family.unet), state, dtype, f"{what} (UNet)", operations)
    return model_patcher(unet, family, load_device, device, compute_dtype)


def unet_from_state(state: Tensors, name: str, *, dtype: torch.dtype | None = None,
                    device: torch.device | str | None = None, load_device: torch.device | str | None = None,
                    compute_dtype: torch.dtype | None = None, operations: Any = None) -> ModelPatcher:
    """The MODEL of a diffusion-model state dict (keys with or without the LDM prefix),
    stored in `dtype` and computed in `compute_dtype` when given; `operations` builds its
    layers from a plugin's classes (see `models.ops`)."""
    device = torch.device(device or "cpu")
    prefix = km.unet_prefix(list(state))
    # As ComfyUI: a checkpoint-layout file keeps only its prefixed UNet keys (its top-level
    # markers are dropped with the rest); a bare UNet file keeps its markers beside the weights.
    unet_state = km.strip_prefix(state, prefix) if prefix else dict(state)
    return _unet_handle(unet_state, unet_state, dtype, device, torch.device(load_device or device), name,
                        compute_dtype, operations)


def vae_from_state(state: Tensors, name: str, *, dtype: torch.dtype | None = None,
                   device: torch.device | str | None = None, load_device: torch.device | str | None = None) -> VAE:
    """The VAE value of an autoencoder state dict (LDM or diffusers layout, optionally
    `first_stage_model.`-prefixed)."""
    device = torch.device(device or "cpu")
    if any(k.startswith(km.VAE_PREFIX) for k in state):
        state = km.strip_prefix(state, km.VAE_PREFIX)
    return _vae_handle(dict(state), dtype, device, torch.device(load_device or device), name)


def _vae_handle(state: Tensors, dtype: torch.dtype | None, device: torch.device, load_device: torch.device,
                what: str) -> VAE:
    if km.is_diffusers_vae(state):
        state = km.diffusers_vae_to_ldm(state)
    try:
        cfg = vae_config(state)
    except DetectionError as exc:
        raise CheckpointError(f"{what}: {exc}") from exc
    state = {k: v for k, v in state.items() if not k.startswith(("loss.", "model_ema."))}
    vae = materialize(lambda: AutoencoderKL(cfg), state, dtype, f"{what} (VAE)")
    return VAE(vae, load_device, device)


def clip_config(state: Tensors, spec: TextEncoderSpec) -> ClipConfig:
    """Shape of an HF-layout text encoder; heads are hidden/64 as in every SD CLIP."""
    hidden = state["text_model.embeddings.token_embedding.weight"].shape
    proj = state.get("text_projection.weight")
    layers = {k.split(".")[3] for k in state if k.startswith("text_model.encoder.layers.")}
    return ClipConfig(
        vocab_size=int(hidden[0]),
        hidden_size=int(hidden[1]),
        intermediate_size=int(state["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
        num_layers=len(layers),
        num_heads=max(1, int(hidden[1]) // 64),
        max_positions=int(state["text_model.embeddings.position_embedding.weight"].shape[0]),
        hidden_act="gelu" if spec.open_clip else "quick_gelu",
        projection_dim=None if proj is None else int(proj.shape[0]),
    )


def _text_encoder(state: Tensors, spec: TextEncoderSpec, dtype: torch.dtype | None, what: str) -> TextEncoder:
    state = km.openclip_to_hf(state) if km.is_openclip(state) else km.clip_to_hf(state)
    if "text_model.embeddings.token_embedding.weight" not in state:
        raise CheckpointError(f"{what}: no CLIP token embedding for {spec.name}")
    cfg = clip_config(state, spec)
    return materialize(lambda: TextEncoder(cfg), state, dtype, f"{what} ({spec.name})")


def _checkpoint_clip(state: Tensors, family: ModelFamily, dtype: torch.dtype | None, device: torch.device,
                     load_device: torch.device, what: str) -> CLIP | None:
    prefixes = km.checkpoint_clip_prefixes(family.adm)
    encoders = {}
    for spec in family.text_encoders:
        part = km.strip_prefix(state, prefixes[spec.name])
        if part:
            encoders[spec.name] = _text_encoder(part, spec, dtype, what)
    if not encoders:
        return None
    if len(encoders) != len(family.text_encoders):
        raise CheckpointError(f"{what}: found text encoders {sorted(encoders)}, {family.name} needs "
                              f"{[s.name for s in family.text_encoders]}")
    width = sum(e.config.hidden_size for e in encoders.values())
    if width != family.unet.context_dim:
        raise CheckpointError(f"{what}: text encoders give {width} features, the UNet expects {family.unet.context_dim}")
    return CLIP(encoders, family, load_device, device)


def load_checkpoint(
    path: str | Path,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    clip_dtype: torch.dtype | None = None,
    vae_dtype: torch.dtype | None = None,
    load_devices: LoadDevices | None = None,
) -> Checkpoint:
    """Load a single-file SD1/SD2/SDXL checkpoint. `dtype` is the UNet storage dtype (None:
    as in the file), `device` where weights rest when not in use (default CPU); the file is
    read straight onto it and cast there. `load_devices` says where each part computes
    (default: `device`)."""
    path = Path(path)
    device = torch.device(device or "cpu")
    return checkpoint_from_state(load_state_dict(path, device), path.name, dtype=dtype, device=device,
                                 clip_dtype=clip_dtype, vae_dtype=vae_dtype, load_devices=load_devices)


def checkpoint_from_state(
    state: Tensors,
    name: str,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    clip_dtype: torch.dtype | None = None,
    vae_dtype: torch.dtype | None = None,
    load_devices: LoadDevices | None = None,
) -> Checkpoint:
    """The values of a state dict in the single-file layout (`name` names it in errors)."""
    device = torch.device(device or "cpu")
    where = load_devices or LoadDevices(device, device, device)
    prefix = km.unet_prefix(list(state))
    if prefix is None:
        raise CheckpointError(f"Could not detect model type of: {name} (expected UNet keys such as "
                              f"'model.diffusion_model.input_blocks.0.0.weight')")
    model = _unet_handle(km.strip_prefix(state, prefix), state, dtype, device, where.unet, name)
    family = model.model.family
    vae_state = km.strip_prefix(state, km.VAE_PREFIX)
    vae = _vae_handle(vae_state, vae_dtype, device, where.vae, name) if vae_state else None
    clip = _checkpoint_clip(state, family, clip_dtype, device, where.clip, name)
    return Checkpoint(model=model, clip=clip, vae=vae, family=family)


def load_unet(path: str | Path, *, dtype: torch.dtype | None = None, device: torch.device | str | None = None,
              load_device: torch.device | str | None = None, compute_dtype: torch.dtype | None = None) -> ModelPatcher:
    """A diffusion-model-only file (keys with or without the LDM prefix), stored in `dtype`
    and computed in `compute_dtype` when given."""
    path = Path(path)
    state = load_state_dict(path, torch.device(device or "cpu"))
    return unet_from_state(state, path.name, dtype=dtype, device=device, load_device=load_device,
                           compute_dtype=compute_dtype)


def load_vae(path: str | Path, *, dtype: torch.dtype | None = None, device: torch.device | str | None = None,
             load_device: torch.device | str | None = None) -> VAE:
    """A VAE file in LDM (optionally `first_stage_model.`-prefixed) or diffusers layout."""
    path = Path(path)
    state = load_state_dict(path, torch.device(device or "cpu"))
    return vae_from_state(state, path.name, dtype=dtype, device=device, load_device=load_device)


def load_clip(
    paths: Sequence[str | Path],
    family: ModelFamily,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    load_device: torch.device | str | None = None,
) -> CLIP:
    """Text-encoder files (HF `text_model.*` or OpenCLIP layout), one per encoder of
    `family`, in the family's order (clip_l before clip_g for SDXL)."""
    if len(paths) != len(family.text_encoders):
        raise CheckpointError(f"{family.name} needs {len(family.text_encoders)} text encoder file(s), got {len(paths)}")
    device = torch.device(device or "cpu")
    states = [(load_state_dict(Path(p), device), Path(p).name) for p in paths]
    return clip_from_states(states, family, dtype=dtype, device=device, load_device=load_device)


def clip_from_states(
    states: Sequence[tuple[Tensors, str]],
    family: ModelFamily,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    load_device: torch.device | str | None = None,
) -> CLIP:
    """A CLIP from one (state dict, name for errors) per encoder of `family`, in its order."""
    device = torch.device(device or "cpu")
    encoders = {spec.name: _text_encoder(state, spec, dtype, name)
                for (state, name), spec in zip(states, family.text_encoders)}
    return CLIP(encoders, family, torch.device(load_device or device), device)
