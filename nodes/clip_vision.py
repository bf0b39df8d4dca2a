"""CLIP vision, unCLIP and style-model nodes: CLIPVisionLoader / CLIPVisionEncode
(`comfy_core.models.clip_vision_value`), unCLIPCheckpointLoader and unCLIPConditioning (the
image embedding the unCLIP UNet, or SDXL as its pooled input, takes; `sampling.unclip`),
StyleModelLoader / StyleModelApply (the T2I-Adapter style model's tokens appended to the
prompt)."""

from __future__ import annotations

import torch

from comfy_core import runtime
from comfy_core.loading.clip_vision import load_clip_vision, load_unclip_checkpoint
from comfy_core.loading.options import load_options
from comfy_core.loading.style_models import load_style_model
from nodes.common import folders
from nodes.loaders import _with_embeddings


class CLIPVisionLoader:
    CATEGORY = "loaders"
    RETURN_TYPES = ("CLIP_VISION",)
    FUNCTION = "load_clip"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip_name": (folders().get_filename_list("clip_vision"),)}}

    def load_clip(self, clip_name):
        options = load_options(runtime.app().memory)
        path = folders().get_full_path_or_raise("clip_vision", clip_name)
        return (load_clip_vision(path, dtype=options.clip, device=options.device, load_device=options.clip_device),)


class CLIPVisionEncode:
    CATEGORY = "conditioning"
    RETURN_TYPES = ("CLIP_VISION_OUTPUT",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip_vision": ("CLIP_VISION",), "image": ("IMAGE",), "crop": (["center", "none"],)}}

    def encode(self, clip_vision, image, crop):
        return (clip_vision.encode_image(image, crop=crop == "center"),)


class unCLIPCheckpointLoader:  # noqa: N801 (ComfyUI's node name)
    CATEGORY = "loaders"
    RETURN_TYPES = ("MODEL", "CLIP", "VAE", "CLIP_VISION")
    FUNCTION = "load_checkpoint"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": (folders().get_filename_list("checkpoints"),)}}

    def load_checkpoint(self, ckpt_name, output_vae=True, output_clip=True):
        options = load_options(runtime.app().memory)
        path = folders().get_full_path_or_raise("checkpoints", ckpt_name)
        ckpt, vision = load_unclip_checkpoint(path, clip_vision_device=options.clip_device,
                                              **options.checkpoint_kwargs())
        return (ckpt.model, _with_embeddings(ckpt.clip), ckpt.vae, vision)


def append_unclip(conditioning: list, clip_vision_output, strength: float, noise_augmentation: float) -> list:
    """Each entry's `unclip_conditioning` list with one more image (inputs untouched)."""
    item = {"clip_vision_output": clip_vision_output, "strength": strength, "noise_augmentation": noise_augmentation}
    out = []
    for tensor, options in conditioning:
        options = dict(options)
        options["unclip_conditioning"] = list(options.get("unclip_conditioning") or []) + [item]
        out.append([tensor, options])
    return out


class unCLIPConditioning:  # noqa: N801 (ComfyUI's node name)
    CATEGORY = "conditioning"
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "apply_adm"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "conditioning": ("CONDITIONING",), "clip_vision_output": ("CLIP_VISION_OUTPUT",),
            "strength": ("FLOAT", {"default": 1.0, "min": -10.0, "max": 10.0, "step": 0.01}),
            "noise_augmentation": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 1.0, "step": 0.01})}}

    def apply_adm(self, conditioning, clip_vision_output, strength, noise_augmentation):
        if strength == 0:
            return (conditioning,)
        return (append_unclip(conditioning, clip_vision_output, strength, noise_augmentation),)


class StyleModelLoader:
    CATEGORY = "loaders"
    RETURN_TYPES = ("STYLE_MODEL",)
    FUNCTION = "load_style_model"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"style_model_name": (folders().get_filename_list("style_models"),)}}

    def load_style_model(self, style_model_name):
        return (load_style_model(folders().get_full_path_or_raise("style_models", style_model_name)),)


def _attention_bias(keys: dict, n_txt: int, n_style: int, batch: int, bias: float) -> torch.Tensor:
    """The entry's attention mask grown by the style tokens (inserted after the text): text
    and reference-image tokens attend to them with additive bias log(strength). UNets of
    SD1.x/SD2.x/SDXL do not read the mask; models with joint attention do."""
    ref_h, ref_w = keys.get("attention_mask_img_shape", (1, 1))
    n_ref = ref_h * ref_w
    mask = keys.get("attention_mask")
    if mask is None:
        mask = torch.zeros((batch, n_txt + n_ref, n_txt + n_ref), dtype=torch.float16)
    if mask.dtype == torch.bool:
        mask = torch.log(mask.to(torch.float16))
    size = n_txt + n_style + n_ref
    grown = torch.zeros((batch, size, size), dtype=torch.float16)
    cut = n_txt + n_style
    grown[:, :n_txt, :n_txt] = mask[:, :n_txt, :n_txt]
    grown[:, :n_txt, cut:] = mask[:, :n_txt, n_txt:]
    grown[:, cut:, :n_txt] = mask[:, n_txt:, :n_txt]
    grown[:, cut:, cut:] = mask[:, n_txt:, n_txt:]
    grown[:, :n_txt, n_txt:cut] = bias
    grown[:, cut:, n_txt:cut] = bias
    return grown


def apply_style(conditioning: list, tokens: torch.Tensor, strength: float, strength_type: str) -> list:
    """Append style tokens [1, n, D] to every entry: scaled by `strength` ("multiply") or
    weighted in attention by it ("attn_bias")."""
    if strength_type == "multiply":
        tokens = tokens * strength
    bias = float(torch.log(torch.tensor(strength if strength_type == "attn_bias" else 1.0)))
    out = []
    for txt, keys in conditioning:
        if txt.shape[-1] != tokens.shape[-1]:
            raise ValueError(f"the style model makes {tokens.shape[-1]}-wide tokens, the conditioning is "
                             f"{txt.shape[-1]} wide (T2I-Adapter style models are for SD1.x)")
        keys = dict(keys)
        if "attention_mask" in keys or (strength_type == "attn_bias" and strength != 1.0):
            keys["attention_mask"] = _attention_bias(keys, txt.shape[1], tokens.shape[1], txt.shape[0], bias).to(txt.device)
            keys["attention_mask_img_shape"] = keys.get("attention_mask_img_shape", (1, 1))
        out.append([torch.cat((txt, tokens.to(txt)), dim=1), keys])
    return out


class StyleModelApply:
    CATEGORY = "conditioning/style_model"
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "apply_stylemodel"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "conditioning": ("CONDITIONING",), "style_model": ("STYLE_MODEL",),
            "clip_vision_output": ("CLIP_VISION_OUTPUT",),
            "strength": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.001}),
            "strength_type": (["multiply", "attn_bias"],)}}

    def apply_stylemodel(self, conditioning, style_model, clip_vision_output, strength, strength_type):
        tokens = style_model.get_cond(clip_vision_output).flatten(0, 1).unsqueeze(0)  # [1, B·n, D]
        return (apply_style(conditioning, tokens, strength, strength_type),)


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    CLIPVisionLoader, CLIPVisionEncode, unCLIPCheckpointLoader, unCLIPConditioning, StyleModelLoader,
    StyleModelApply)}
NODE_DISPLAY_NAME_MAPPINGS = {"CLIPVisionLoader": "Load CLIP Vision", "CLIPVisionEncode": "CLIP Vision Encode",
                              "StyleModelLoader": "Load Style Model", "StyleModelApply": "Apply Style Model"}
