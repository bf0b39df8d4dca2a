"""Latent nodes that need no model: create, resize, composite, batch, transform, mask."""

from __future__ import annotations

from comfy_core.images import latents, resize
from nodes.common import MAX_RESOLUTION

_POS8 = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 8}


class _LatentNode:
    CATEGORY = "latent"
    RETURN_TYPES = ("LATENT",)


class EmptyLatentImage(_LatentNode):
    FUNCTION = "generate"
    DESCRIPTION = "A batch of all-zero latents: the starting point of text-to-image sampling."
    OUTPUT_TOOLTIPS = ("Empty latent.",)

    @classmethod
    def INPUT_TYPES(cls):
        side = {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {
            "width": ("INT", {**side, "tooltip": "Width in pixels (the latent is 1/8 of it)."}),
            "height": ("INT", {**side, "tooltip": "Height in pixels (the latent is 1/8 of it)."}),
            "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096,
                                   "tooltip": "Images per batch."}),
        }}

    def generate(self, width, height, batch_size=1):
        return (latents.empty(width, height, batch_size),)


class LatentUpscale(_LatentNode):
    FUNCTION = "upscale"
    upscale_methods = list(resize.LATENT_UPSCALE_METHODS)
    crop_methods = list(resize.CROP_METHODS)

    @classmethod
    def INPUT_TYPES(cls):
        side = {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {"samples": ("LATENT",), "upscale_method": (cls.upscale_methods,),
                             "width": ("INT", dict(side)), "height": ("INT", dict(side)),
                             "crop": (cls.crop_methods,)}}

    def upscale(self, samples, upscale_method, width, height, crop):
        return (latents.upscale_to(samples, upscale_method, width, height, crop),)


class LatentUpscaleBy(_LatentNode):
    FUNCTION = "upscale"
    upscale_methods = list(resize.LATENT_UPSCALE_METHODS)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",), "upscale_method": (cls.upscale_methods,),
                             "scale_by": ("FLOAT", {"default": 1.5, "min": 0.01, "max": 8.0,
                                                    "step": 0.01})}}

    def upscale(self, samples, upscale_method, scale_by):
        return (latents.upscale_by(samples, upscale_method, scale_by),)


class LatentComposite(_LatentNode):
    FUNCTION = "composite"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples_to": ("LATENT",), "samples_from": ("LATENT",),
                             "x": ("INT", dict(_POS8)), "y": ("INT", dict(_POS8)),
                             "feather": ("INT", dict(_POS8))}}

    def composite(self, samples_to, samples_from, x, y, composite_method="normal", feather=0):
        # composite_method is ComfyUI's fifth parameter (packs call it positionally); only
        # "normal" exists.
        return (latents.composite(samples_to, samples_from, x, y, feather),)


class LatentBlend(_LatentNode):
    CATEGORY = "_for_testing"
    FUNCTION = "blend"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples1": ("LATENT",), "samples2": ("LATENT",),
                             "blend_factor": ("FLOAT", {"default": 0.5, "min": 0, "max": 1,
                                                        "step": 0.01})}}

    def blend(self, samples1, samples2, blend_factor):
        return (latents.blend(samples1, samples2, blend_factor),)


class LatentFromBatch(_LatentNode):
    CATEGORY = "latent/batch"
    FUNCTION = "frombatch"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",),
                             "batch_index": ("INT", {"default": 0, "min": 0, "max": 63}),
                             "length": ("INT", {"default": 1, "min": 1, "max": 64})}}

    def frombatch(self, samples, batch_index, length):
        return (latents.from_batch(samples, batch_index, length),)


class RepeatLatentBatch(_LatentNode):
    CATEGORY = "latent/batch"
    FUNCTION = "repeat"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",),
                             "amount": ("INT", {"default": 1, "min": 1, "max": 64})}}

    def repeat(self, samples, amount):
        return (latents.repeat(samples, amount),)


class SetLatentNoiseMask(_LatentNode):
    CATEGORY = "latent/inpaint"
    FUNCTION = "set_mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",), "mask": ("MASK",)}}

    def set_mask(self, samples, mask):
        return (latents.set_noise_mask(samples, mask),)


class LatentRotate(_LatentNode):
    CATEGORY = "latent/transform"
    FUNCTION = "rotate"
    rotations = ["none", "90 degrees", "180 degrees", "270 degrees"]

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",), "rotation": (list(cls.rotations),)}}

    def rotate(self, samples, rotation):
        return (latents.rotate(samples, self.rotations.index(rotation)),)


class LatentFlip(_LatentNode):
    CATEGORY = "latent/transform"
    FUNCTION = "flip"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",), "flip_method": (
            ["x-axis: vertically", "y-axis: horizontally"],)}}

    def flip(self, samples, flip_method):
        return (latents.flip(samples, vertical=flip_method.startswith("x")),)


class LatentCrop(_LatentNode):
    CATEGORY = "latent/transform"
    FUNCTION = "crop"

    @classmethod
    def INPUT_TYPES(cls):
        side = {"default": 512, "min": 64, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {"samples": ("LATENT",), "width": ("INT", dict(side)),
                             "height": ("INT", dict(side)), "x": ("INT", dict(_POS8)),
                             "y": ("INT", dict(_POS8))}}

    def crop(self, samples, width, height, x, y):
        return (latents.crop(samples, width, height, x, y),)


NODE_CLASS_MAPPINGS = {
    "EmptyLatentImage": EmptyLatentImage,
    "LatentUpscale": LatentUpscale,
    "LatentUpscaleBy": LatentUpscaleBy,
    "LatentFromBatch": LatentFromBatch,
    "RepeatLatentBatch": RepeatLatentBatch,
    "SetLatentNoiseMask": SetLatentNoiseMask,
    "LatentComposite": LatentComposite,
    "LatentBlend": LatentBlend,
    "LatentRotate": LatentRotate,
    "LatentFlip": LatentFlip,
    "LatentCrop": LatentCrop,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "EmptyLatentImage": "Empty Latent Image",
    "LatentUpscale": "Upscale Latent",
    "LatentUpscaleBy": "Upscale Latent By",
    "LatentFromBatch": "Latent From Batch",
    "RepeatLatentBatch": "Repeat Latent Batch",
    "SetLatentNoiseMask": "Set Latent Noise Mask",
    "LatentComposite": "Latent Composite",
    "LatentBlend": "Latent Blend",
    "LatentRotate": "Rotate Latent",
    "LatentFlip": "Flip Latent",
    "LatentCrop": "Crop Latent",
}
