"""Mask nodes: LoadImageMask from core (classic); the rest are ComfyUI's comfy_extras mask
nodes, written with the V3 schema as ComfyUI 0.8.0 defines them (so their /object_info
entries match), keeping the classic method names as aliases of `execute` for callers."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from comfy_core.images import decode, masks
from comfy_core.images import ui_outputs as ui
from comfy_core.registry.v3 import io
from nodes.common import EXTRAS_MASK, MAX_RESOLUTION, folders, image_limits

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


def _pos(name: str, step: int = 1) -> io.Int.Input:
    return io.Int.Input(name, default=0, min=0, max=MAX_RESOLUTION, step=step)


def _size(name: str) -> io.Int.Input:
    return io.Int.Input(name, default=512, min=1, max=MAX_RESOLUTION, step=1)


def _mask_schema(node_id: str, inputs: list, display_name: str | None = None,
                 output: type = io.Mask, category: str = "mask") -> io.Schema:
    return io.Schema(node_id=node_id, display_name=display_name, category=category,
                     inputs=inputs, outputs=[output.Output()])


class _MaskNode(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = EXTRAS_MASK


class SolidMask(_MaskNode):
    @classmethod
    def define_schema(cls):
        value = io.Float.Input("value", default=1.0, min=0.0, max=1.0, step=0.01)
        return _mask_schema("SolidMask", [value, _size("width"), _size("height")])

    @classmethod
    def execute(cls, value, width, height):
        return io.NodeOutput(torch.full((1, height, width), value, dtype=torch.float32))

    solid = execute


class InvertMask(_MaskNode):
    @classmethod
    def define_schema(cls):
        return _mask_schema("InvertMask", [io.Mask.Input("mask")])

    @classmethod
    def execute(cls, mask):
        return io.NodeOutput(1.0 - mask)

    invert = execute


class MaskToImage(_MaskNode):
    @classmethod
    def define_schema(cls):
        return _mask_schema("MaskToImage", [io.Mask.Input("mask")], "Convert Mask to Image",
                            output=io.Image)

    @classmethod
    def execute(cls, mask):
        return io.NodeOutput(masks.as_batch(mask)[..., None].expand(-1, -1, -1, 3))

    mask_to_image = execute


class ImageToMask(_MaskNode):
    @classmethod
    def define_schema(cls):
        return _mask_schema("ImageToMask", [io.Image.Input("image"),
                                            io.Combo.Input("channel", options=list(_CHANNELS))],
                            "Convert Image to Mask")

    @classmethod
    def execute(cls, image, channel):
        return io.NodeOutput(image[:, :, :, _CHANNELS.index(channel)])

    image_to_mask = execute


class ImageColorToMask(_MaskNode):
    @classmethod
    def define_schema(cls):
        color = io.Int.Input("color", default=0, min=0, max=0xFFFFFF, step=1,
                             display_mode=io.NumberDisplay.number)
        return _mask_schema("ImageColorToMask", [io.Image.Input("image"), color])

    @classmethod
    def execute(cls, image, color):
        rgb = (image.clamp(0, 1.0) * 255.0).round().to(torch.int64)
        packed = (rgb[..., 0] << 16) + (rgb[..., 1] << 8) + rgb[..., 2]
        return io.NodeOutput((packed == color).float())

    image_to_mask = execute


class CropMask(_MaskNode):
    @classmethod
    def define_schema(cls):
        return _mask_schema("CropMask", [io.Mask.Input("mask"), _pos("x"), _pos("y"),
                                         _size("width"), _size("height")])

    @classmethod
    def execute(cls, mask, x, y, width, height):
        return io.NodeOutput(masks.as_batch(mask)[:, y:y + height, x:x + width])

    crop = execute


class MaskComposite(_MaskNode):
    @classmethod
    def define_schema(cls):
        operation = io.Combo.Input("operation", options=list(masks.MASK_OPERATIONS))
        return _mask_schema("MaskComposite", [io.Mask.Input("destination"), io.Mask.Input("source"),
                                              _pos("x"), _pos("y"), operation])

    @classmethod
    def execute(cls, destination, source, x, y, operation):
        return io.NodeOutput(masks.combine(destination, source, x, y, operation))

    combine = execute


class FeatherMask(_MaskNode):
    @classmethod
    def define_schema(cls):
        return _mask_schema("FeatherMask", [io.Mask.Input("mask"), _pos("left"), _pos("top"),
                                            _pos("right"), _pos("bottom")])

    @classmethod
    def execute(cls, mask, left, top, right, bottom):
        return io.NodeOutput(masks.feather(mask, left, top, right, bottom))

    feather = execute


class GrowMask(_MaskNode):
    @classmethod
    def define_schema(cls):
        expand = io.Int.Input("expand", default=0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION, step=1)
        return _mask_schema("GrowMask", [io.Mask.Input("mask"), expand,
                                         io.Boolean.Input("tapered_corners", default=True)],
                            "Grow Mask")

    @classmethod
    def execute(cls, mask, expand, tapered_corners):
        return io.NodeOutput(masks.grow(mask, expand, tapered_corners))

    expand_mask = execute


class ThresholdMask(_MaskNode):
    @classmethod
    def define_schema(cls):
        value = io.Float.Input("value", default=0.5, min=0.0, max=1.0, step=0.01)
        return _mask_schema("ThresholdMask", [io.Mask.Input("mask"), value])

    @classmethod
    def execute(cls, mask, value):
        return io.NodeOutput((mask > value).float())

    image_to_mask = execute


def _composite_inputs(kind: type, step: int) -> list:
    return [kind.Input("destination"), kind.Input("source"), _pos("x", step), _pos("y", step),
            io.Boolean.Input("resize_source", default=False), io.Mask.Input("mask", optional=True)]


class LatentCompositeMasked(_MaskNode):
    @classmethod
    def define_schema(cls):
        return _mask_schema("LatentCompositeMasked", _composite_inputs(io.Latent, 8),
                            output=io.Latent, category="latent")

    @classmethod
    def execute(cls, destination, source, x, y, resize_source, mask=None):
        out = dict(destination)
        out["samples"] = masks.paste(destination["samples"].clone(), source["samples"], x, y,
                                     mask, 8, resize_source)
        return io.NodeOutput(out)

    composite = execute


class ImageCompositeMasked(_MaskNode):
    @classmethod
    def define_schema(cls):
        return _mask_schema("ImageCompositeMasked", _composite_inputs(io.Image, 1),
                            output=io.Image, category="image")

    @classmethod
    def execute(cls, destination, source, x, y, resize_source, mask=None):
        channels = max(destination.shape[-1], source.shape[-1])
        destination = F.pad(destination, (0, channels - destination.shape[-1]), value=1.0)
        source = F.pad(source, (0, channels - source.shape[-1]), value=1.0)
        out = masks.paste(destination.clone().movedim(-1, 1), source.movedim(-1, 1), x, y,
                          mask, 1, resize_source)
        return io.NodeOutput(out.movedim(1, -1))

    composite = execute


class MaskPreview(io.ComfyNode):
    """Output node: the mask as grey images in the temp folder, shown on the node."""

    RELATIVE_PYTHON_MODULE = EXTRAS_MASK

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="MaskPreview", display_name="Preview Mask", category="mask",
                         inputs=[io.Mask.Input("mask")], is_output_node=True,
                         hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo])

    @classmethod
    def execute(cls, mask):
        return io.NodeOutput(ui=ui.PreviewMask(mask, cls=cls))


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
    "MaskPreview": MaskPreview,
}
NODE_DISPLAY_NAME_MAPPINGS = {"LoadImageMask": "Load Image (as Mask)"}  # V3 nodes: in their schema
