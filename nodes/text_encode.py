"""CLIP text encode nodes: prompt text -> CONDITIONING `[[cond [1,T,D], {"pooled_output",
...}]]`, with `embedding:NAME` looked up in the embeddings folders (COMPAT 9.7, 9.8)."""

from __future__ import annotations

from comfy_core.models import clip_encode
from nodes.common import EXTRAS_CLIP_SDXL, MAX_RESOLUTION, ensure_loaded, folders

_TEXT = ("STRING", {"multiline": True, "dynamicPrompts": True})


def _prepare(clip) -> list:
    """Load the CLIP for encoding and return the embeddings folders."""
    if clip is None:
        raise ValueError("clip input is None: the checkpoint holds no text encoder; load one with "
                         "CLIPLoader or DualCLIPLoader")
    ensure_loaded([clip], kind="text_encoder", device=clip.load_device)
    return folders().get_folder_paths("embeddings")


class CLIPTextEncode:
    CATEGORY = "conditioning"
    RETURN_TYPES = ("CONDITIONING",)
    OUTPUT_TOOLTIPS = ("Conditioning for the sampler.",)
    FUNCTION = "encode"
    DESCRIPTION = ("Encodes a prompt with the text encoder. (word:1.2) weights a part, "
                   "embedding:NAME uses a textual inversion from models/embeddings.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": (_TEXT[0], {**_TEXT[1], "tooltip": "Text to encode."}),
                             "clip": ("CLIP", {"tooltip": "Text encoder."})}}

    def encode(self, clip, text):
        cond, pooled = clip_encode.encode_text(clip, text, _prepare(clip))
        return ([[cond, {"pooled_output": pooled}]],)


def _size(default: int) -> tuple:
    return ("INT", {"default": default, "min": 0, "max": MAX_RESOLUTION})


class CLIPTextEncodeSDXL:
    CATEGORY = "advanced/conditioning"
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "execute"
    RELATIVE_PYTHON_MODULE = EXTRAS_CLIP_SDXL

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip": ("CLIP",), "width": _size(1024), "height": _size(1024),
                             "crop_w": _size(0), "crop_h": _size(0), "target_width": _size(1024),
                             "target_height": _size(1024), "text_g": _TEXT, "text_l": _TEXT}}

    def execute(self, clip, width, height, crop_w, crop_h, target_width, target_height, text_g, text_l):
        cond, pooled = clip_encode.encode_sdxl(clip, text_g, text_l, _prepare(clip))
        return ([[cond, {"pooled_output": pooled, "width": width, "height": height, "crop_w": crop_w,
                         "crop_h": crop_h, "target_width": target_width, "target_height": target_height}]],)


class CLIPTextEncodeSDXLRefiner:
    CATEGORY = "advanced/conditioning"
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "execute"
    RELATIVE_PYTHON_MODULE = EXTRAS_CLIP_SDXL

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ascore": ("FLOAT", {"default": 6.0, "min": 0.0, "max": 1000.0, "step": 0.01}),
                             "width": _size(1024), "height": _size(1024), "text": _TEXT,
                             "clip": ("CLIP",)}}

    def execute(self, ascore, width, height, text, clip):
        cond, pooled = clip_encode.encode_text(clip, text, _prepare(clip))
        return ([[cond, {"pooled_output": pooled, "aesthetic_score": ascore, "width": width,
                         "height": height}]],)


NODE_CLASS_MAPPINGS = {
    "CLIPTextEncode": CLIPTextEncode,
    "CLIPTextEncodeSDXL": CLIPTextEncodeSDXL,
    "CLIPTextEncodeSDXLRefiner": CLIPTextEncodeSDXLRefiner,
}
NODE_DISPLAY_NAME_MAPPINGS = {"CLIPTextEncode": "CLIP Text Encode (Prompt)"}
