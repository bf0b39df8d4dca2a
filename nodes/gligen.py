"""GLIGEN nodes: GLIGENLoader (a GLIGEN model behind a patcher, loaded with the UNet when a
conditioning uses it) and GLIGENTextBoxApply (a phrase bound to a pixel box, as ComfyUI's
`gligen` conditioning key; the sampler turns it into the UNet's middle patch)."""

from __future__ import annotations

from comfy_core import runtime
from comfy_core.loading.gligen import load_gligen
from comfy_core.loading.options import load_options
from comfy_core.models.patcher import ModelPatcher
from nodes.common import MAX_RESOLUTION, folders


class GLIGENLoader:
    CATEGORY = "loaders"
    RETURN_TYPES = ("GLIGEN",)
    FUNCTION = "load_gligen"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"gligen_name": (folders().get_filename_list("gligen"),)}}

    def load_gligen(self, gligen_name):
        options = load_options(runtime.app().memory)
        model = load_gligen(folders().get_full_path_or_raise("gligen", gligen_name))
        return (ModelPatcher(model, options.unet_device, options.device),)


def add_box(conditioning: list, gligen, pooled, width: int, height: int, x: int, y: int) -> list:
    """Each entry's GLIGEN boxes with one more (latent units: pixels // 8)."""
    box = (pooled, height // 8, width // 8, y // 8, x // 8)
    out = []
    for tensor, options in conditioning:
        options = dict(options)
        previous = list(options["gligen"][2]) if "gligen" in options else []
        options["gligen"] = ("position", gligen, previous + [box])
        out.append([tensor, options])
    return out


class GLIGENTextBoxApply:
    CATEGORY = "conditioning/gligen"
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "append"

    @classmethod
    def INPUT_TYPES(cls):
        size = {"min": 8, "max": MAX_RESOLUTION, "step": 8}
        place = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {
            "conditioning_to": ("CONDITIONING",), "clip": ("CLIP",), "gligen_textbox_model": ("GLIGEN",),
            "text": ("STRING", {"multiline": True, "dynamicPrompts": True}),
            "width": ("INT", {"default": 64, **size}), "height": ("INT", {"default": 64, **size}),
            "x": ("INT", place), "y": ("INT", place)}}

    def append(self, conditioning_to, clip, gligen_textbox_model, text, width, height, x, y):
        _, pooled = clip.encode_from_tokens(clip.tokenize(text), return_pooled="unprojected")
        return (add_box(conditioning_to, gligen_textbox_model, pooled, width, height, x, y),)


NODE_CLASS_MAPPINGS = {"GLIGENLoader": GLIGENLoader, "GLIGENTextBoxApply": GLIGENTextBoxApply}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
