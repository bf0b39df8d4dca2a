"""CLIP text encode nodes: prompt text -> CONDITIONING `[[cond [1,T,D], {"pooled_output",
...}]]` through the CLIP value's tokenize / encode_from_tokens_scheduled, as plugins call
it; `embedding:NAME` is looked up in the folders the loader gave the CLIP (COMPAT 9.7, 9.8)."""

from __future__ import annotations

from comfy_core.registry.v3 import io
from nodes.common import EXTRAS_CLIP_SDXL, MAX_RESOLUTION

_TEXT = ("STRING", {"multiline": True, "dynamicPrompts": True})


def _check(clip):
    if clip is None:
        raise ValueError("clip input is None: the checkpoint holds no text encoder; load one with "
                         "CLIPLoader or DualCLIPLoader")
    return clip


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
        clip = _check(clip)
        return (clip.encode_from_tokens_scheduled(clip.tokenize(text)),)


def encode_prompt(clip, text: str):
    """(cond [1, T, D], pooled [1, P] | None) of a prompt through the CLIP value."""
    clip = _check(clip)
    return clip.encode_from_tokens(clip.tokenize(text), return_pooled=True)


def _size(name: str, default: int) -> io.Int.Input:
    return io.Int.Input(name, default=default, min=0, max=MAX_RESOLUTION)


def _text(name: str) -> io.String.Input:
    return io.String.Input(name, multiline=True, dynamic_prompts=True)


class CLIPTextEncodeSDXL(io.ComfyNode):
    """SDXL base prompt: text_g for CLIP-G, text_l for CLIP-L, plus the size conditioning.
    V3 like ComfyUI 0.8.0's (which has no `encode` alias; we keep one for callers)."""

    RELATIVE_PYTHON_MODULE = EXTRAS_CLIP_SDXL

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="CLIPTextEncodeSDXL", category="advanced/conditioning", inputs=[
            io.Clip.Input("clip"), _size("width", 1024), _size("height", 1024), _size("crop_w", 0),
            _size("crop_h", 0), _size("target_width", 1024), _size("target_height", 1024),
            _text("text_g"), _text("text_l")], outputs=[io.Conditioning.Output()])

    @classmethod
    def execute(cls, clip, width, height, crop_w, crop_h, target_width, target_height, text_g,
                text_l):
        clip = _check(clip)
        if set(clip.encoders) != {"clip_l", "clip_g"}:
            raise ValueError(f"CLIPTextEncodeSDXL needs an SDXL CLIP (clip_l + clip_g); this one has "
                             f"{sorted(clip.encoders)}")
        tokens = clip.tokenize(text_g)
        tokens["l"] = clip.tokenize(text_l)["l"]
        empty = clip.tokenize("")
        for short, other in (("l", "g"), ("g", "l")):
            while len(tokens[short]) < len(tokens[other]):
                tokens[short] += empty[short]
        return io.NodeOutput(clip.encode_from_tokens_scheduled(tokens, add_dict={
            "width": width, "height": height, "crop_w": crop_w, "crop_h": crop_h,
            "target_width": target_width, "target_height": target_height}))

    encode = execute


class CLIPTextEncodeSDXLRefiner(io.ComfyNode):
    """SDXL refiner prompt with its aesthetic score."""

    RELATIVE_PYTHON_MODULE = EXTRAS_CLIP_SDXL

    @classmethod
    def define_schema(cls):
        ascore = io.Float.Input("ascore", default=6.0, min=0.0, max=1000.0, step=0.01)
        return io.Schema(node_id="CLIPTextEncodeSDXLRefiner", category="advanced/conditioning",
                         inputs=[ascore, _size("width", 1024), _size("height", 1024),
                                 _text("text"), io.Clip.Input("clip")],
                         outputs=[io.Conditioning.Output()])

    @classmethod
    def execute(cls, ascore, width, height, text, clip):
        clip = _check(clip)
        return io.NodeOutput(clip.encode_from_tokens_scheduled(clip.tokenize(text), add_dict={
            "aesthetic_score": ascore, "width": width, "height": height}))

    encode = execute


NODE_CLASS_MAPPINGS = {
    "CLIPTextEncode": CLIPTextEncode,
    "CLIPTextEncodeSDXL": CLIPTextEncodeSDXL,
    "CLIPTextEncodeSDXLRefiner": CLIPTextEncodeSDXLRefiner,
}
NODE_DISPLAY_NAME_MAPPINGS = {"CLIPTextEncode": "CLIP Text Encode (Prompt)"}
