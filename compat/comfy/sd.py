"""`comfy.sd` (COMPAT-PLUGINS 3.6-3.8): ComfyUI's loaders and the CLIP and VAE classes,
over `comfy_core.loading` and our CLIP/VAE values.

Dtypes and devices come from the running server's memory manager, as for the loader
nodes. The loaders answer ComfyUI's way: `load_checkpoint_guess_config` always a 4-tuple,
`RuntimeError("ERROR: Could not detect model type of: ...")` for files that are not a
checkpoint, `None` from the `*_state_dict` forms. `model_options` understood: `dtype` /
`weight_dtype` (UNet storage dtype) and `custom_operations` (a plugin's layer classes, e.g.
GGUF's quantized ones; see `comfy_core.models.ops`). Only SD1.x/SD2.x/SDXL load here.
"""

from __future__ import annotations

import enum
import logging
from pathlib import Path
from typing import Any, Sequence

import torch

from comfy_core.loading.checkpoint import checkpoint_from_state, unet_from_state, vae_from_state
from comfy_core.loading.clip_files import clip_from_state_dicts, load_clip_file, load_dual_clip
from comfy_core.loading.options import LoadOptions, load_options
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict
from comfy_core.memory.current import current_manager
from comfy_core.models.clip_value import CLIP
from comfy_core.models.lora import apply_lora
from comfy_core.models.vae_value import VAE as _VAE

log = logging.getLogger(__name__)

__all__ = ["CLIP", "CLIPType", "VAE", "load_checkpoint", "load_checkpoint_guess_config", "load_clip",
           "load_diffusion_model", "load_diffusion_model_state_dict", "load_lora_for_models",
           "load_state_dict_guess_config", "load_text_encoder_state_dicts", "load_unet"]


class CLIPType(enum.Enum):
    STABLE_DIFFUSION = 1
    STABLE_CASCADE = 2
    SD3 = 3
    STABLE_AUDIO = 4
    HUNYUAN_DIT = 5
    FLUX = 6
    MOCHI = 7
    LTXV = 8
    HUNYUAN_VIDEO = 9
    PIXART = 10
    COSMOS = 11
    LUMINA2 = 12
    WAN = 13
    HIDREAM = 14
    CHROMA = 15
    ACE = 16
    OMNIGEN2 = 17
    QWEN_IMAGE = 18
    HUNYUAN_IMAGE = 19
    HUNYUAN_VIDEO_15 = 20
    OVIS = 21
    KANDINSKY5 = 22
    KANDINSKY5_IMAGE = 23
    NEWBIE = 24


def _options() -> LoadOptions:
    return load_options(current_manager())


def _embedding_dirs(directory: Any) -> list[str]:
    if directory is None:
        return []
    return [str(directory)] if isinstance(directory, (str, Path)) else [str(d) for d in directory]


# ---- VAE ----------------------------------------------------------------------------------


class _VAEClass(type):
    """Every VAE value is a `comfy.sd.VAE` (packs test `isinstance(x, VAE)`), while
    `VAE(sd=...)` builds one from weights as ComfyUI's constructor does."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, _VAE) if cls is VAE else type.__instancecheck__(cls, obj)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, _VAE) if cls is VAE else type.__subclasscheck__(cls, sub)


class VAE(_VAE, metaclass=_VAEClass):
    """`VAE(sd=None, device=None, config=None, dtype=None, metadata=None)`: the autoencoder
    of a state dict; weights of no known VAE give an invalid one that raises on use."""

    def __init__(self, sd: dict | None = None, device: Any = None, config: Any = None,
                 dtype: torch.dtype | None = None, metadata: Any = None) -> None:
        options = _options()
        try:
            if not sd:
                raise CheckpointError("no weights")
            built = vae_from_state(sd, "VAE weights", dtype=dtype or options.vae, device=options.device,
                                   load_device=device or options.vae_device)
        except CheckpointError as exc:
            log.warning("VAE: the weights are not a VAE this server loads (%s)", exc)
            self._invalid(device or options.vae_device)
            return
        self.__dict__.update(built.__dict__)

    def _invalid(self, device: Any) -> None:
        self.first_stage_model = None
        self.patcher = None
        self.device = torch.device(device)
        self.output_device = torch.device("cpu")
        self.latent_channels, self.latent_dim = 4, 2
        self.downscale_ratio = self.upscale_ratio = 8


# ---- checkpoints and diffusion models ------------------------------------------------------


def _not_detected(ckpt_path: Any, exc: Exception) -> RuntimeError:
    return RuntimeError(f"ERROR: Could not detect model type of: {ckpt_path}\n{exc}")


def _storage_dtype(model_options: dict | None, default: torch.dtype) -> torch.dtype:
    options = model_options or {}
    return options.get("dtype") or options.get("weight_dtype") or default


def load_state_dict_guess_config(sd: dict, output_vae: bool = True, output_clip: bool = True,
                                 output_clipvision: bool = False, embedding_directory: Any = None,
                                 output_model: bool = True, model_options: dict | None = None,
                                 te_model_options: dict | None = None, metadata: Any = None) -> tuple | None:
    """(MODEL, CLIP, VAE, CLIP_VISION) of a single-file state dict; None when it is not a
    checkpoint. Parts not asked for, or not in the file, are None (CLIP vision: None)."""
    options = _options()
    kwargs = options.checkpoint_kwargs()
    kwargs["dtype"] = _storage_dtype(model_options, options.unet)
    try:
        ckpt = checkpoint_from_state(dict(sd), "state dict", **kwargs)
    except CheckpointError as exc:
        log.error("%s", exc)
        return None
    clip = ckpt.clip
    if clip is not None:
        clip.embedding_directory = _embedding_dirs(embedding_directory)
    return (ckpt.model if output_model else None, clip if output_clip else None,
            ckpt.vae if output_vae else None, None)


def load_checkpoint_guess_config(ckpt_path: str, output_vae: bool = True, output_clip: bool = True,
                                 output_clipvision: bool = False, embedding_directory: Any = None,
                                 output_model: bool = True, model_options: dict | None = None,
                                 te_model_options: dict | None = None) -> tuple:
    """Always a 4-tuple (MODEL, CLIP, VAE, CLIP_VISION); a file with only a diffusion model
    gives a VAE that raises when used."""
    try:
        sd = load_state_dict(Path(ckpt_path), _options().device)
    except CheckpointError as exc:
        raise _not_detected(ckpt_path, exc) from exc
    out = load_state_dict_guess_config(sd, output_vae, output_clip, output_clipvision, embedding_directory,
                                       output_model, model_options, te_model_options)
    if out is None:
        raise RuntimeError(f"ERROR: Could not detect model type of: {ckpt_path}")
    if output_vae and out[2] is None:
        out = (out[0], out[1], VAE(sd={}), out[3])
    return out


def load_checkpoint(config_path: str | None = None, ckpt_path: str | None = None, output_vae: bool = True,
                    output_clip: bool = True, embedding_directory: Any = None, state_dict: Any = None,
                    config: Any = None) -> tuple:
    """Deprecated config-file loader: (MODEL, CLIP, VAE); the family is read from the weights."""
    return load_checkpoint_guess_config(ckpt_path, output_vae, output_clip, embedding_directory=embedding_directory)[:3]


def load_diffusion_model_state_dict(sd: dict, model_options: dict | None = None, metadata: Any = None) -> Any:
    """The MODEL of a diffusion-model state dict, or None when it is not one we load. With
    `custom_operations` the layers are the plugin's and compute in the server's UNet dtype."""
    options, model_options = _options(), model_options or {}
    operations = model_options.get("custom_operations")
    try:
        model = unet_from_state(dict(sd), "diffusion model", dtype=_storage_dtype(model_options, options.unet),
                                device=options.device, load_device=options.unet_device, operations=operations)
    except CheckpointError as exc:
        log.error("%s", exc)
        return None
    if operations is not None:
        model.model.manual_cast_dtype = options.unet_compute
    return model


def load_diffusion_model(unet_path: str, model_options: dict | None = None) -> Any:
    sd = load_state_dict(Path(unet_path), _options().device)
    model = load_diffusion_model_state_dict(sd, model_options)
    if model is None:
        raise RuntimeError(f"ERROR: Could not detect model type of: {unet_path}")
    return model


def load_unet(unet_path: str, dtype: torch.dtype | None = None) -> Any:
    return load_diffusion_model(unet_path, {"dtype": dtype})


# ---- text encoders and LoRA ----------------------------------------------------------------


def _clip_kwargs(model_options: dict | None) -> dict:
    options = _options()
    device = (model_options or {}).get("initial_device")
    return {"dtype": (model_options or {}).get("dtype") or options.clip,
            "device": device or options.device, "load_device": options.clip_device}


def _sd_clip_type(clip_type: Any, count: int) -> None:
    if clip_type not in (CLIPType.STABLE_DIFFUSION, None) or count not in (1, 2):
        raise ValueError(f"CLIP type {getattr(clip_type, 'name', clip_type)} with {count} file(s) is not "
                         "supported: only SD1.x/SD2.x (one file) and SDXL (two files) text encoders load here")


def load_clip(ckpt_paths: Sequence[str], embedding_directory: Any = None,
              clip_type: CLIPType = CLIPType.STABLE_DIFFUSION, model_options: dict | None = None) -> CLIP:
    """One text-encoder file (SD1.x/SD2.x) or an SDXL clip_l + clip_g pair."""
    _sd_clip_type(clip_type, len(ckpt_paths))
    kwargs = _clip_kwargs(model_options)
    clip = (load_clip_file(ckpt_paths[0], "stable_diffusion", **kwargs) if len(ckpt_paths) == 1
            else load_dual_clip(list(ckpt_paths), "sdxl", **kwargs))
    clip.embedding_directory = _embedding_dirs(embedding_directory)
    return clip


def load_text_encoder_state_dicts(state_dicts: Sequence[dict] = (), embedding_directory: Any = None,
                                  clip_type: CLIPType = CLIPType.STABLE_DIFFUSION,
                                  model_options: dict | None = None) -> CLIP:
    """`load_clip` for state dicts already in memory."""
    _sd_clip_type(clip_type, len(state_dicts))
    clip = clip_from_state_dicts([dict(s) for s in state_dicts], **_clip_kwargs(model_options))
    clip.embedding_directory = _embedding_dirs(embedding_directory)
    return clip


def load_lora_for_models(model: Any, clip: Any, lora: dict, strength_model: float,
                         strength_clip: float) -> tuple[Any, Any]:
    """Clones of `model` and `clip` (either may be None) with the LoRA's patches; the
    inputs are never changed, keys that match nothing are logged."""
    new_model, new_clip, _ = apply_lora(model, clip, lora, strength_model, strength_clip)
    return new_model, new_clip
