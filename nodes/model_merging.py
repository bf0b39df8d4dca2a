"""Model merging and saving nodes (ComfyUI's comfy_extras.nodes_model_merging): merges are
weight patches on a clone of the first value (`comfy_core.models.merging`); the save nodes
write safetensors files in ComfyUI's layouts with the workflow in the metadata
(`comfy_core.loading.saving`)."""

from __future__ import annotations

from pathlib import Path

from comfy_core.files.save_path import save_image_path
from comfy_core.loading import saving
from comfy_core.models import merging
from nodes.common import folders, setting

MERGING = "comfy_extras.nodes_model_merging"
_RATIO = {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}
_MULTIPLIER = {"default": 1.0, "min": -10.0, "max": 10.0, "step": 0.01}
_HIDDEN = {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}


class _Merge:
    RELATIVE_PYTHON_MODULE = MERGING
    CATEGORY = "advanced/model_merging"
    FUNCTION = "merge"


class ModelMergeSimple(_Merge):
    RETURN_TYPES = ("MODEL",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model1": ("MODEL",), "model2": ("MODEL",), "ratio": ("FLOAT", _RATIO)}}

    def merge(self, model1, model2, ratio):
        return (merging.model_merge_simple(model1, model2, ratio),)


class ModelMergeBlocks(_Merge):
    """A ratio per UNet key prefix; `out` covers the output blocks and the output layer."""

    RETURN_TYPES = ("MODEL",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model1": ("MODEL",), "model2": ("MODEL",), "input": ("FLOAT", _RATIO),
                             "middle": ("FLOAT", _RATIO), "out": ("FLOAT", _RATIO)}}

    def merge(self, model1, model2, **ratios):
        # Keys no prefix matches take the first ratio of the schema (ComfyUI's rule),
        # whatever order the inputs arrive in; subclasses bring their own INPUT_TYPES.
        schema = [k for k in type(self).INPUT_TYPES()["required"] if k in ratios]
        ordered = {k: ratios[k] for k in schema} | ratios
        return (merging.merge_models(model1, model2, merging.block_ratios(ordered)),)


class ModelMergeSubtract(_Merge):
    RETURN_TYPES = ("MODEL",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model1": ("MODEL",), "model2": ("MODEL",), "multiplier": ("FLOAT", _MULTIPLIER)}}

    def merge(self, model1, model2, multiplier):
        return (merging.model_subtract(model1, model2, multiplier),)


class ModelMergeAdd(_Merge):
    RETURN_TYPES = ("MODEL",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model1": ("MODEL",), "model2": ("MODEL",)}}

    def merge(self, model1, model2):
        return (merging.model_add(model1, model2),)


class CLIPMergeSimple(_Merge):
    RETURN_TYPES = ("CLIP",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip1": ("CLIP",), "clip2": ("CLIP",), "ratio": ("FLOAT", _RATIO)}}

    def merge(self, clip1, clip2, ratio):
        return (merging.clip_merge_simple(clip1, clip2, ratio),)


class CLIPMergeSubtract(_Merge):
    RETURN_TYPES = ("CLIP",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip1": ("CLIP",), "clip2": ("CLIP",), "multiplier": ("FLOAT", _MULTIPLIER)}}

    def merge(self, clip1, clip2, multiplier):
        return (merging.clip_subtract(clip1, clip2, multiplier),)


class CLIPMergeAdd(_Merge):
    RETURN_TYPES = ("CLIP",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip1": ("CLIP",), "clip2": ("CLIP",)}}

    def merge(self, clip1, clip2):
        return (merging.clip_add(clip1, clip2),)


def _metadata(prompt, extra_pnginfo) -> dict[str, str]:
    return {} if setting("disable_metadata", False) else saving.workflow_metadata(prompt, extra_pnginfo)


def _target(prefix: str, output_dir=None):
    """(path of `<prefix>_<counter:05>_.safetensors` in the output folder, its file stem)."""
    directory = folders().directory_of("output") if output_dir is None else Path(output_dir)
    folder, filename, counter, _, _ = save_image_path(directory, prefix)
    return folder / f"{filename}_{counter:05}_.safetensors", f"{filename} {counter}"


def save_checkpoint(model, clip=None, vae=None, clip_vision=None, filename_prefix=None, output_dir=None, prompt=None,
                    extra_pnginfo=None) -> None:
    """Write the values as one checkpoint file (ComfyUI's `comfy_extras.nodes_model_merging.
    save_checkpoint`, which packs call too): model-spec metadata and markers, then the
    workflow unless metadata is disabled."""
    path, title = _target(filename_prefix or "ComfyUI", output_dir)
    spec, markers = saving.model_spec(model, title)
    state = saving.checkpoint_state(model, clip, vae, clip_vision) | markers
    saving.write_safetensors(state, path, spec | _metadata(prompt, extra_pnginfo))


class _Save:
    RELATIVE_PYTHON_MODULE = MERGING
    CATEGORY = "advanced/model_merging"
    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True


class CheckpointSave(_Save):
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "clip": ("CLIP",), "vae": ("VAE",),
                             "filename_prefix": ("STRING", {"default": "checkpoints/ComfyUI"})},
                "hidden": _HIDDEN}

    def save(self, model, clip, vae, filename_prefix, prompt=None, extra_pnginfo=None):
        save_checkpoint(model, clip, vae, filename_prefix=filename_prefix, prompt=prompt, extra_pnginfo=extra_pnginfo)
        return {}


class ModelSave(_Save):
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "filename_prefix": ("STRING", {"default": "diffusion_models/ComfyUI"})},
                "hidden": _HIDDEN}

    def save(self, model, filename_prefix, prompt=None, extra_pnginfo=None):
        save_checkpoint(model, filename_prefix=filename_prefix, prompt=prompt, extra_pnginfo=extra_pnginfo)
        return {}


class CLIPSave(_Save):
    """One file per text encoder, `<prefix>_<role>_<counter>_.safetensors`."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip": ("CLIP",), "filename_prefix": ("STRING", {"default": "clip/ComfyUI"})},
                "hidden": _HIDDEN}

    def save(self, clip, filename_prefix, prompt=None, extra_pnginfo=None):
        metadata = _metadata(prompt, extra_pnginfo)
        if metadata:
            metadata = {"format": "pt"} | metadata
        for role, state in saving.clip_encoder_states(clip).items():
            path, _ = _target(f"{filename_prefix}_{role}")
            saving.write_safetensors(state, path, metadata)
        return {}


class VAESave(_Save):
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"vae": ("VAE",), "filename_prefix": ("STRING", {"default": "vae/ComfyUI_vae"})},
                "hidden": _HIDDEN}

    def save(self, vae, filename_prefix, prompt=None, extra_pnginfo=None):
        path, _ = _target(filename_prefix)
        saving.write_safetensors(saving.vae_state(vae), path, _metadata(prompt, extra_pnginfo))
        return {}


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    ModelMergeSimple, ModelMergeBlocks, ModelMergeSubtract, ModelMergeAdd, CheckpointSave, CLIPMergeSimple,
    CLIPMergeSubtract, CLIPMergeAdd, CLIPSave, VAESave, ModelSave)}
NODE_DISPLAY_NAME_MAPPINGS = {"CheckpointSave": "Save Checkpoint"}
