"""Loader nodes: checkpoints, VAE, diffusion model, text encoders and LoRAs from the model
folders, as MODEL / CLIP / VAE handles."""

from __future__ import annotations

import logging

from comfy_core import runtime
from comfy_core.loading import diffusers_folder, taesd
from comfy_core.loading.checkpoint import (Checkpoint, checkpoint_from_state, load_checkpoint,
                                           load_unet, load_vae)
from comfy_core.loading.clip_files import CLIP_TYPES, DUAL_CLIP_TYPES, load_clip_file, load_dual_clip
from comfy_core.loading.options import UNET_WEIGHT_DTYPES, LoadOptions, load_options, unet_dtypes
from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.models.family import SD15_LATENT, SDXL_LATENT
from comfy_core.models.lora import apply_lora
from nodes.common import folders

log = logging.getLogger(__name__)

TAESD_NAMES = ("taesd", "taesdxl", "taesd3", "taef1")
TAESD_SCALES = {"taesd": SD15_LATENT.scale_factor, "taesdxl": SDXL_LATENT.scale_factor}
PIXEL_SPACE = "pixel_space"
_STRENGTH = {"default": 1.0, "min": -100.0, "max": 100.0, "step": 0.01}


def _options(device: str = "default") -> LoadOptions:
    return load_options(runtime.app().memory, device)


def _with_embeddings(clip):
    """A loaded CLIP that looks `embedding:NAME` up in the embeddings folders."""
    if clip is not None:
        clip.embedding_directory = [str(p) for p in folders().get_folder_paths("embeddings")]
    return clip


def _checkpoint(ckpt_name: str) -> Checkpoint:
    path = folders().get_full_path_or_raise("checkpoints", ckpt_name)
    ckpt = load_checkpoint(path, **_options().checkpoint_kwargs())
    _with_embeddings(ckpt.clip)
    return ckpt


class CheckpointLoaderSimple:
    CATEGORY = "loaders"
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    OUTPUT_TOOLTIPS = ("Denoising model (UNet).", "Text encoder.", "Latent autoencoder.")
    FUNCTION = "load_checkpoint"
    DESCRIPTION = ("Loads a single-file .safetensors checkpoint (SD1.x, SD2.x, SDXL); the "
                   "model family is read from the weights.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": (folders().get_filename_list("checkpoints"),
                                           {"tooltip": "File in models/checkpoints."})}}

    def load_checkpoint(self, ckpt_name):
        ckpt = _checkpoint(ckpt_name)
        return (ckpt.model, ckpt.clip, ckpt.vae)


class CheckpointLoader:
    """The family comes from the weights; the config file is accepted for old workflows."""

    CATEGORY = "advanced/loaders"
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load_checkpoint"
    DEPRECATED = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"config_name": (folders().get_filename_list("configs"),),
                             "ckpt_name": (folders().get_filename_list("checkpoints"),)}}

    def load_checkpoint(self, config_name, ckpt_name):
        log.info("CheckpointLoader: model type of %s is read from its weights, not from %s",
                 ckpt_name, config_name)
        ckpt = _checkpoint(ckpt_name)
        return (ckpt.model, ckpt.clip, ckpt.vae)


def vae_choices() -> list[str]:
    """VAE files, then each TAESD whose encoder and decoder are both in vae_approx, then
    pixel_space (ComfyUI's list)."""
    names = list(folders().get_filename_list("vae"))
    approx = folders().get_filename_list("vae_approx")
    for tae in TAESD_NAMES:
        halves = [any(n.startswith(f"{tae}_{half}.") for n in approx) for half in ("encoder", "decoder")]
        if all(halves):
            names.append(tae)
    return names + [PIXEL_SPACE]


def _taesd_vae(name: str):
    """VAELoader's "taesd" / "taesdxl": both halves from vae_approx as one fast VAE."""
    approx = folders().get_filename_list("vae_approx")
    halves = [taesd.find_decoder(approx, f"{name}_{half}") for half in ("encoder", "decoder")]
    if None in halves:
        raise ValueError(f"VAELoader: {name} needs {name}_encoder.safetensors and "
                         f"{name}_decoder.safetensors in models/vae_approx")
    encoder, decoder = (folders().get_full_path_or_raise("vae_approx", h) for h in halves)
    options = _options()
    return taesd.load_vae(encoder, decoder, TAESD_SCALES[name], options.device, options.vae_device)


class VAELoader:
    CATEGORY = "loaders"
    RETURN_TYPES = ("VAE",)
    FUNCTION = "load_vae"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"vae_name": (vae_choices(),)}}

    def load_vae(self, vae_name):
        if vae_name in TAESD_SCALES:
            return (_taesd_vae(vae_name),)
        if vae_name in TAESD_NAMES or vae_name == PIXEL_SPACE:
            raise ValueError(f"VAELoader: {vae_name!r} is not an SD1.x/SD2.x/SDXL VAE; choose a "
                             "KL VAE file from the vae folder, taesd or taesdxl")
        path = folders().get_full_path_or_raise("vae", vae_name)
        options = _options()
        return (load_vae(path, dtype=options.vae, device=options.device, load_device=options.vae_device),)


class UNETLoader:
    CATEGORY = "advanced/loaders"
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load_unet"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"unet_name": (folders().get_filename_list("diffusion_models"),),
                             "weight_dtype": (list(UNET_WEIGHT_DTYPES),)}}

    def load_unet(self, unet_name, weight_dtype):
        path = folders().get_full_path_or_raise("diffusion_models", unet_name)
        options = _options()
        storage, compute = unet_dtypes(options, weight_dtype)
        return (load_unet(path, dtype=storage, device=options.device, load_device=options.unet_device,
                          compute_dtype=compute),)


def _clip_kwargs(device: str) -> dict:
    """CLIPLoader's device="cpu" rests and runs the CLIP on the CPU whatever the manager prefers."""
    options = _options(device)
    return {"dtype": options.clip, "device": "cpu" if device == "cpu" else options.device,
            "load_device": options.clip_device}


class CLIPLoader:
    CATEGORY = "advanced/loaders"
    RETURN_TYPES = ("CLIP",)
    FUNCTION = "load_clip"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip_name": (folders().get_filename_list("text_encoders"),),
                             "type": (list(CLIP_TYPES),)},
                "optional": {"device": (["default", "cpu"], {"advanced": True})}}

    def load_clip(self, clip_name, type="stable_diffusion", device="default"):  # noqa: A002 (input name)
        path = folders().get_full_path_or_raise("text_encoders", clip_name)
        return (_with_embeddings(load_clip_file(path, type, **_clip_kwargs(device))),)


class DualCLIPLoader:
    CATEGORY = "advanced/loaders"
    RETURN_TYPES = ("CLIP",)
    FUNCTION = "load_clip"

    @classmethod
    def INPUT_TYPES(cls):
        files = folders().get_filename_list("text_encoders")
        return {"required": {"clip_name1": (files,), "clip_name2": (list(files),),
                             "type": (list(DUAL_CLIP_TYPES),)},
                "optional": {"device": (["default", "cpu"], {"advanced": True})}}

    def load_clip(self, clip_name1, clip_name2, type, device="default"):  # noqa: A002 (input name)
        paths = [folders().get_full_path_or_raise("text_encoders", n) for n in (clip_name1, clip_name2)]
        return (_with_embeddings(load_dual_clip(paths, type, **_clip_kwargs(device))),)


def _lora(model, clip, lora_name: str, strength_model: float, strength_clip: float):
    state = load_state_dict(folders().get_full_path_or_raise("loras", lora_name))
    new_model, new_clip, _ = apply_lora(model, clip, state, strength_model, strength_clip)
    return new_model, new_clip


class LoraLoader:
    CATEGORY = "loaders"
    RETURN_TYPES = ("MODEL", "CLIP")
    OUTPUT_TOOLTIPS = ("The diffusion model with the LoRA's weights added.",
                       "The text encoder with the LoRA's weights added.")
    FUNCTION = "load_lora"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "clip": ("CLIP",),
                             "lora_name": (folders().get_filename_list("loras"),),
                             "strength_model": ("FLOAT", dict(_STRENGTH)),
                             "strength_clip": ("FLOAT", dict(_STRENGTH))}}

    def load_lora(self, model, clip, lora_name, strength_model, strength_clip):
        if strength_model == 0 and strength_clip == 0:
            return (model, clip)
        return _lora(model, clip, lora_name, strength_model, strength_clip)


class LoraLoaderModelOnly:
    CATEGORY = "loaders"
    RETURN_TYPES = ("MODEL",)
    OUTPUT_TOOLTIPS = ("The diffusion model with the LoRA's weights added.",)
    FUNCTION = "load_lora_model_only"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",),
                             "lora_name": (folders().get_filename_list("loras"),),
                             "strength_model": ("FLOAT", dict(_STRENGTH))}}

    def load_lora_model_only(self, model, lora_name, strength_model):
        if strength_model == 0:
            return (model,)
        return (_lora(model, None, lora_name, strength_model, 0.0)[0],)


class DiffusersLoader:
    """MODEL, CLIP and VAE from a diffusers-format folder (with model_index.json) in
    models/diffusers, converted to the single-file layout on load."""

    CATEGORY = "advanced/loaders/deprecated"
    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load_checkpoint"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model_path": (folders().get_filename_list("diffusers"),)}}

    def load_checkpoint(self, model_path, output_vae=True, output_clip=True):
        folder = diffusers_folder.resolve_folder(folders().get_folder_paths("diffusers"), model_path)
        options = _options().checkpoint_kwargs()
        state = diffusers_folder.read_folder(folder, options.get("device") or "cpu")
        ckpt = checkpoint_from_state(state, folder.name, **options)
        clip = _with_embeddings(ckpt.clip) if output_clip else None
        return (ckpt.model, clip, ckpt.vae if output_vae else None)


NODE_CLASS_MAPPINGS = {
    "CheckpointLoaderSimple": CheckpointLoaderSimple,
    "CheckpointLoader": CheckpointLoader,
    "VAELoader": VAELoader,
    "UNETLoader": UNETLoader,
    "CLIPLoader": CLIPLoader,
    "DualCLIPLoader": DualCLIPLoader,
    "LoraLoader": LoraLoader,
    "LoraLoaderModelOnly": LoraLoaderModelOnly,
    "DiffusersLoader": DiffusersLoader,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "CheckpointLoaderSimple": "Load Checkpoint",
    "CheckpointLoader": "Load Checkpoint With Config (DEPRECATED)",
    "VAELoader": "Load VAE",
    "UNETLoader": "Load Diffusion Model",
    "CLIPLoader": "Load CLIP",
    "LoraLoader": "Load LoRA",
}
