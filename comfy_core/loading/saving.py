"""MODEL / CLIP / VAE values -> safetensors files in the layouts ComfyUI writes and reads
(CheckpointSave, ModelSave, CLIPSave, VAESave).

- checkpoints: the UNet under `model.diffusion_model.`, the VAE under `first_stage_model.`,
  the text encoders in their family's checkpoint layout (SD1 `cond_stage_model.transformer.`,
  SD2 OpenCLIP `cond_stage_model.model.`, SDXL `conditioner.embedders.0.transformer.` and
  `.1.model.`), `v_pred` / `ztsnr` marker tensors for v-prediction models, and model-spec
  metadata for SDXL (architecture, implementation "sgm", title, predict key);
- text encoders: one file per encoder in transformers' `text_model.*` layout;
- VAEs: the LDM `encoder.*` / `decoder.*` keys.

Weights are written as the value computes with them: its patches (LoRAs, merges) are put
in place by loading it through the memory manager first. The workflow goes into the
metadata (`prompt` and each `extra_pnginfo` key as JSON) unless metadata is disabled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors.torch import save_file

from comfy_core.files.atomic import atomic_path
from comfy_core.loading import keymaps as km
from comfy_core.loading.clip_vision import UNCLIP_PREFIX, hf_to_openclip_visual
from comfy_core.memory.current import load_models
from comfy_core.models.base_model import ModelType
from comfy_core.sampling.model_sampling import ModelSamplingContinuousEDM
from comfy_core.sampling.predictions import V_PREDICTION

Tensors = dict[str, torch.Tensor]
ARCHITECTURES = {"sdxl": "stable-diffusion-xl-v1-base", "sdxl_refiner": "stable-diffusion-xl-v1-refiner"}
SDXL_EDIT = "stable-diffusion-xl-v1-edit"
_DROPPED_CLIP_KEYS = ("text_projection.weight", "logit_scale")  # clip_l extras ComfyUI drops


def _cpu(state: Mapping[str, torch.Tensor]) -> Tensors:
    """CPU tensors of a state dict. Tensors already on the CPU are the module's own (no
    second copy of a model in memory), so they change when another patcher of the same
    module loads: write them out (or copy them) before that."""
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()}


def unet_state(model: Any) -> Tensors:
    """The MODEL's patched UNet weights under `model.diffusion_model.`."""
    load_models([model])
    sd = model.model_state_dict("diffusion_model.")
    return {"model." + k: v for k, v in _cpu(sd).items()}


def clip_encoder_states(clip: Any) -> dict[str, Tensors]:
    """{encoder role: its patched weights in transformers' layout (`text_model.*`)}."""
    load_models([clip.patcher])
    sd = _cpu(clip.get_sd())
    out: dict[str, Tensors] = {}
    for key, t in sd.items():
        role, _, rest = key.partition(".")
        out.setdefault(role, {})[rest.removeprefix("transformer.")] = t
    return out


def clip_checkpoint_state(clip: Any) -> Tensors:
    """The CLIP's encoders in its family's single-file checkpoint layout."""
    prefixes = km.checkpoint_clip_prefixes(clip.family.adm)
    out: Tensors = {}
    for role, state in clip_encoder_states(clip).items():
        spec = clip.family.encoder(role)
        if spec.open_clip:
            state = km.hf_to_openclip(state)
        else:
            state = {k: v for k, v in state.items() if k not in _DROPPED_CLIP_KEYS}
            if clip.family.adm == "sdxl":
                positions = state["text_model.embeddings.position_embedding.weight"].shape[0]
                state["text_model.embeddings.position_ids"] = torch.arange(positions).expand((1, -1)).contiguous()
        out.update({prefixes[role] + k: v for k, v in state.items()})
    return out


def vae_state(vae: Any) -> Tensors:
    load_models([vae.patcher])
    return _cpu(vae.get_sd())


def workflow_metadata(prompt: Any, extra_pnginfo: Mapping[str, Any] | None) -> dict[str, str]:
    """`prompt` and every `extra_pnginfo` entry (usually `workflow`) as JSON strings."""
    meta = {"prompt": json.dumps(prompt) if prompt is not None else ""}
    meta.update({str(k): json.dumps(v) for k, v in (extra_pnginfo or {}).items()})
    return meta


def model_spec(model: Any, title: str) -> tuple[dict[str, str], Tensors]:
    """(model-spec metadata, marker tensors) of a MODEL, by ComfyUI's rules: SDXL-family
    models get model-spec architecture fields; the predict key follows the model's own
    type (what it was loaded as), `ztsnr` the model sampling in use, and a continuous-EDM
    v-prediction sampling stores its σ range."""
    family = model.model.family
    metadata: dict[str, str] = {}
    architecture = ARCHITECTURES.get(family.adm)
    if architecture is not None:
        metadata["modelspec.architecture"] = SDXL_EDIT if family.adm == "sdxl" and family.ip2p else architecture
        metadata.update({"modelspec.sai_model_spec": "1.0.0", "modelspec.implementation": "sgm",
                         "modelspec.title": title})
    extra: Tensors = {}
    sampling = model.get_model_object("model_sampling")
    if isinstance(sampling, ModelSamplingContinuousEDM) and isinstance(sampling, V_PREDICTION):
        extra["edm_vpred.sigma_max"] = torch.tensor(float(sampling.sigma_max)).float()
        extra["edm_vpred.sigma_min"] = torch.tensor(float(sampling.sigma_min)).float()
    model_type = getattr(model.model, "model_type", None)
    if model_type is ModelType.EPS:
        metadata["modelspec.predict_key"] = "epsilon"
    elif model_type is ModelType.V_PREDICTION:
        metadata["modelspec.predict_key"] = "v"
        extra["v_pred"] = torch.tensor([])
        if getattr(sampling, "zsnr", False):
            extra["ztsnr"] = torch.tensor([])
    return metadata, extra


def write_safetensors(state: Tensors, path: Path, metadata: Mapping[str, str] | None) -> Path:
    """Write `state` to `path` atomically (no half-written file ever carries the name)."""
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp), metadata=dict(metadata) if metadata else None)
    return path


def clip_vision_checkpoint_state(model: Any, clip_vision: Any) -> Tensors:
    """The CLIP vision tower of an unCLIP checkpoint, in OpenCLIP's layout under
    `embedder.model.visual.` (where unCLIPCheckpointLoader finds it)."""
    if model.model.family.adm != "unclip":
        raise ValueError(f"only unCLIP checkpoints carry a CLIP vision model; this is a {model.model.family.name} model")
    load_models([clip_vision.patcher])
    return {UNCLIP_PREFIX + k: v for k, v in hf_to_openclip_visual(_cpu(clip_vision.get_sd())).items()}


def checkpoint_state(model: Any, clip: Any = None, vae: Any = None, clip_vision: Any = None) -> Tensors:
    """A single-file checkpoint of the values given (ModelSave passes only the model)."""
    state = unet_state(model)
    if clip is not None:
        state.update(clip_checkpoint_state(clip))
    if vae is not None:
        state.update({km.VAE_PREFIX + k: v for k, v in vae_state(vae).items()})
    if clip_vision is not None:
        state.update(clip_vision_checkpoint_state(model, clip_vision))
    return state
