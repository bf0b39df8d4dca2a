"""Mask nodes (LoadImageMask from core; the rest as ComfyUI's comfy_extras mask nodes)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from comfy_core.images import decode, masks
from nodes.common import EXTRAS_MASK, MAX_RESOLUTION, folders, image_limits

_POS = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 1}
_SIZE = {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1}
_CHANNELS = ["red", "green", "blue", "alpha"]


class LoadImageMask:
    CATEGORY = "mask"
    RETURN_TYPES = ("MASK",)
    FUNCTION = "load_image"

    @classmethod
    def INPUT_TYPES(cls):
        files = decode.list_input_files(folders().input_dir, images_only=False)
        return {"required": {"image": (files, {"image_upload": True}),
                             "channel": (list(decode.MASK_CHANNELS),)}}

    def load_image(self, image, channel):
        return (decode.load_mask(folders().annotated_path(image), channel, image_limits()),)

    @classmethod
    def IS_CHANGED(cls, image, channel=None, **_):
        return decode.file_sha256(folders().annotated_path(image))

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        if not folders().annotated_exists(image):
            return f"Invalid image file: {image}"
        return True


class _MaskNode:
    CATEGORY = "mask"
    RETURN_TYPES = ("MASK",)
    RELATIVE_PYTHON_MODULE = EXTRAS_MASK


class SolidMask(_MaskNode):
    FUNCTION = "solid"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0,
                                                 "step": 0.01}),
                             "width": ("INT", dict(_SIZE)), "height": ("INT", dict(_SIZE))}}

    def solid(self, value, width, height):
        return (torch.full((1, height, width), value, dtype=torch.float32),)


class InvertMask(_MaskNode):
    FUNCTION = "invert"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",)}}

    def invert(self, mask):
        return (1.0 - mask,)


class MaskToImage(_MaskNode):
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "mask_to_image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",)}}

    def mask_to_image(self, mask):
        return (masks.as_batch(mask)[..., None].expand(-1, -1, -1, 3),)


class ImageToMask(_MaskNode):
    FUNCTION = "image_to_mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "channel": (list(_CHANNELS),)}}

    def image_to_mask(self, image, channel):
        return (image[:, :, :, _CHANNELS.index(channel)],)


class ImageColorToMask(_MaskNode):
    FUNCTION = "image_to_mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "color": (
            "INT", {"default": 0, "min": 0, "max": 0xFFFFFF, "step": 1, "display": "color"})}}

    def image_to_mask(self, image, color):
        rgb = (image.clamp(0, 1.0) * 255.0).round().to(torch.int64)
        packed = (rgb[..., 0] << 16) + (rgb[..., 1] << 8) + rgb[..., 2]
        return ((packed == color).float(),)


class CropMask(_MaskNode):
    FUNCTION = "crop"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",), "x": ("INT", dict(_POS)), "y": ("INT", dict(_POS)),
                             "width": ("INT", dict(_SIZE)), "height": ("INT", dict(_SIZE))}}

    def crop(self, mask, x, y, width, height):
        return (masks.as_batch(mask)[:, y:y + height, x:x + width],)


class MaskComposite(_MaskNode):
    FUNCTION = "combine"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"destination": ("MASK",), "source": ("MASK",),
                             "x": ("INT", dict(_POS)), "y": ("INT", dict(_POS)),
                             "operation": (list(masks.MASK_OPERATIONS),)}}

    def combine(self, destination, source, x, y, operation):
        return (masks.combine(destination, source, x, y, operation),)


class FeatherMask(_MaskNode):
    FUNCTION = "feather"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",), "left": ("INT", dict(_POS)),
                             "top": ("INT", dict(_POS)), "right": ("INT", dict(_POS)),
                             "bottom": ("INT", dict(_POS))}}

    def feather(self, mask, left, top, right, bottom):
        return (masks.feather(mask, left, top, right, bottom),)


class GrowMask(_MaskNode):
    FUNCTION = "expand_mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",), "expand": (
            "INT", {"default": 0, "min": -MAX_RESOLUTION, "max": MAX_RESOLUTION, "step": 1}),
            "tapered_corners": ("BOOLEAN", {"default": True})}}

    def expand_mask(self, mask, expand, tapered_corners):
        return (masks.grow(mask, expand, tapered_corners),)


class ThresholdMask(_MaskNode):
    FUNCTION = "image_to_mask"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",), "value": (
            "FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01})}}

    def image_to_mask(self, mask, value):
        return ((mask > value).float(),)


class LatentCompositeMasked:
    CATEGORY = "latent"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "composite"
    RELATIVE_PYTHON_MODULE = EXTRAS_MASK

    @classmethod
    def INPUT_TYPES(cls):
        pos = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {"destination": ("LATENT",), "source": ("LATENT",),
                             "x": ("INT", dict(pos)), "y": ("INT", dict(pos)),
                             "resize_source": ("BOOLEAN", {"default": False})},
                "optional": {"mask": ("MASK",)}}

    def composite(self, destination, source, x, y, resize_source, mask=None):
        out = dict(destination)
        out["samples"] = masks.paste(destination["samples"].clone(), source["samples"], x, y,
                                     mask, 8, resize_source)
        return (out,)


class ImageCompositeMasked:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "composite"
    RELATIVE_PYTHON_MODULE = EXTRAS_MASK

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"destination": ("IMAGE",), "source": ("IMAGE",),
                             "x": ("INT", dict(_POS)), "y": ("INT", dict(_POS)),
                             "resize_source": ("BOOLEAN", {"default": False})},
                "optional": {"mask": ("MASK",)}}

    def composite(self, destination, source, x, y, resize_source, mask=None):
        channels = max(destination.shape[-1], source.shape[-1])
        destination = F.pad(destination, (0, channels - destination.shape[-1]), value=1.0)
        source = F.pad(source, (0, channels - source.shape[-1]), value=1.0)
        out = masks.paste(destination.clone().movedim(-1, 1), source.movedim(-1, 1), x, y,
                          mask, 1, resize_source)
        return (out.movedim(1, -1),)


NODE_CLASS_MAPPINGS = {
    "LoadImageMask": LoadImageMask,
    "SolidMask": SolidMask,
    "InvertMask": InvertMask,
    "MaskToImage": MaskToImage,
    "ImageToMask": ImageToMask,
    "ImageColorToMask": ImageColorToMask,
    "CropMask": CropMask,
    "MaskComposite": MaskComposite,
    "FeatherMask": FeatherMask,
    "GrowMask": GrowMask,
    "ThresholdMask": ThresholdMask,
    "LatentCompositeMasked": LatentCompositeMasked,
    "ImageCompositeMasked": ImageCompositeMasked,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "LoadImageMask": "Load Image (as Mask)",
    "MaskToImage": "Convert Mask to Image",
    "ImageToMask": "Convert Image to Mask",
    "ImageColorToMask": "Convert Image Color to Mask",
}
