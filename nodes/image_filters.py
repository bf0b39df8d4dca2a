"""Image post-processing nodes (ComfyUI's comfy_extras post-processing and morphology
modules): blend, blur, quantize, sharpen, resizes, batching, morphology and YUV."""

from __future__ import annotations

from comfy_core.images import batching, filters, geometry, latent_ops, quantize, resize
from comfy_core.registry.v3 import io
from nodes.common import MAX_RESOLUTION

POST_PROCESSING = "comfy_extras.nodes_post_processing"
MORPHOLOGY = "comfy_extras.nodes_morphology"
SCALE_METHODS = list(resize.IMAGE_UPSCALE_METHODS)


class ImageBlend(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = POST_PROCESSING

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ImageBlend", category="image/postprocessing", inputs=[
            io.Image.Input("image1"), io.Image.Input("image2"),
            io.Float.Input("blend_factor", default=0.5, min=0.0, max=1.0, step=0.01),
            io.Combo.Input("blend_mode", options=list(filters.BLEND_MODES))],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image1, image2, blend_factor, blend_mode):
        return io.NodeOutput(filters.blend(image1, image2, blend_factor, blend_mode))


class ImageBlur(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = POST_PROCESSING

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ImageBlur", category="image/postprocessing", inputs=[
            io.Image.Input("image"),
            io.Int.Input("blur_radius", default=1, min=1, max=31, step=1),
            io.Float.Input("sigma", default=1.0, min=0.1, max=10.0, step=0.1)],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image, blur_radius, sigma):
        return io.NodeOutput(filters.blur(image, blur_radius, sigma))


class ImageQuantize(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = POST_PROCESSING

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ImageQuantize", category="image/postprocessing", inputs=[
            io.Image.Input("image"), io.Int.Input("colors", default=256, min=1, max=256, step=1),
            io.Combo.Input("dither", options=list(quantize.DITHER_MODES))],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image, colors, dither):
        return io.NodeOutput(quantize.quantize(image, colors, dither))


class ImageSharpen(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = POST_PROCESSING

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ImageSharpen", category="image/postprocessing", inputs=[
            io.Image.Input("image"),
            io.Int.Input("sharpen_radius", default=1, min=1, max=31, step=1),
            io.Float.Input("sigma", default=1.0, min=0.1, max=10.0, step=0.01),
            io.Float.Input("alpha", default=1.0, min=0.0, max=5.0, step=0.01)],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image, sharpen_radius, sigma, alpha):
        return io.NodeOutput(filters.sharpen(image, sharpen_radius, sigma, alpha))


class ImageScaleToTotalPixels(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = POST_PROCESSING

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ImageScaleToTotalPixels", category="image/upscaling", inputs=[
            io.Image.Input("image"), io.Combo.Input("upscale_method", options=SCALE_METHODS),
            io.Float.Input("megapixels", default=1.0, min=0.01, max=16.0, step=0.01),
            io.Int.Input("resolution_steps", default=1, min=1, max=256)],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image, upscale_method, megapixels, resolution_steps):
        return io.NodeOutput(geometry.scale_to_total_pixels(
            image, megapixels * geometry.MEGAPIXEL, upscale_method, resolution_steps))


def _size(name: str) -> io.Int.Input:
    return io.Int.Input(name, default=512, min=0, max=MAX_RESOLUTION, step=1)


def _crop() -> io.Combo.Input:
    return io.Combo.Input("crop", options=list(resize.CROP_METHODS), default="center")


class ResizeImageMaskNode(io.ComfyNode):
    """One resize for an IMAGE or a MASK; the output has the input's type."""

    RELATIVE_PYTHON_MODULE = POST_PROCESSING

    @classmethod
    def define_schema(cls):
        template = io.MatchType.Template("input_type", [io.Image, io.Mask])
        option = io.DynamicCombo.Option
        options = [
            option("scale by multiplier", [io.Float.Input("multiplier", default=1.0, min=0.01,
                                                          max=8.0, step=0.01)]),
            option("scale dimensions", [_size("width"), _size("height"), _crop()]),
            option("scale longer dimension", [_size("longer_size")]),
            option("scale shorter dimension", [_size("shorter_size")]),
            option("scale width", [_size("width")]),
            option("scale height", [_size("height")]),
            option("scale total pixels", [io.Float.Input("megapixels", default=1.0, min=0.01,
                                                         max=16.0, step=0.01)]),
            option("match size", [io.MultiType.Input("match", [io.Image, io.Mask]), _crop()]),
        ]
        return io.Schema(
            node_id="ResizeImageMaskNode", display_name="Resize Image/Mask", category="transform",
            inputs=[io.MatchType.Input("input", template=template),
                    io.DynamicCombo.Input("resize_type", options=options),
                    io.Combo.Input("scale_method", options=SCALE_METHODS, default="area")],
            outputs=[io.MatchType.Output(template=template, display_name="resized")])

    @classmethod
    def execute(cls, input, resize_type, scale_method):  # noqa: A002 - ComfyUI's input name
        kind, method = resize_type["resize_type"], scale_method
        ops = {
            "scale by multiplier": lambda: geometry.scale_by(input, resize_type["multiplier"], method),
            "scale dimensions": lambda: geometry.scale_to(
                input, resize_type["width"], resize_type["height"], method, resize_type["crop"]),
            "scale longer dimension": lambda: geometry.scale_longer_side(
                input, resize_type["longer_size"], method),
            "scale shorter dimension": lambda: geometry.scale_shorter_side(
                input, resize_type["shorter_size"], method),
            "scale width": lambda: geometry.scale_to(input, resize_type["width"], 0, method),
            "scale height": lambda: geometry.scale_to(input, 0, resize_type["height"], method),
            "scale total pixels": lambda: geometry.scale_to_total_pixels(  # whole pixels here
                input, int(resize_type["megapixels"] * geometry.MEGAPIXEL), method),
            "match size": lambda: geometry.resize(input, *geometry.size_of(resize_type["match"]),
                                                  method, resize_type["crop"]),
        }
        if kind not in ops:
            raise ValueError(f"resize_type must be one of {list(ops)}, got {kind!r}")
        return io.NodeOutput(ops[kind]())


def _autogrow(socket: type, name: str) -> io.Autogrow.Input:
    template = io.Autogrow.TemplatePrefix(socket.Input(name), prefix=name, min=2, max=50)
    return io.Autogrow.Input(f"{name}s", template=template)


class BatchImagesNode(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = POST_PROCESSING

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="BatchImagesNode", display_name="Batch Images", category="image",
                         inputs=[_autogrow(io.Image, "image")], outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, images):
        return io.NodeOutput(batching.batch_images(list(images.values())))


class BatchMasksNode(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = POST_PROCESSING

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="BatchMasksNode", display_name="Batch Masks", category="mask",
                         inputs=[_autogrow(io.Mask, "mask")], outputs=[io.Mask.Output()])

    @classmethod
    def execute(cls, masks):
        return io.NodeOutput(batching.batch_masks(list(masks.values())))


class BatchLatentsNode(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = POST_PROCESSING

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="BatchLatentsNode", display_name="Batch Latents",
                         category="latent", inputs=[_autogrow(io.Latent, "latent")],
                         outputs=[io.Latent.Output()])

    @classmethod
    def execute(cls, latents):
        return io.NodeOutput(latent_ops.batch(list(latents.values())))


class Morphology(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = MORPHOLOGY

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="Morphology", display_name="ImageMorphology",
                         category="image/postprocessing", inputs=[
                             io.Image.Input("image"),
                             io.Combo.Input("operation", options=list(filters.MORPHOLOGY_OPERATIONS)),
                             io.Int.Input("kernel_size", default=3, min=3, max=999, step=1)],
                         outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image, operation, kernel_size):
        return io.NodeOutput(filters.morphology(image, operation, kernel_size))


class ImageRGBToYUV(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = MORPHOLOGY

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ImageRGBToYUV", category="image/batch",
                         inputs=[io.Image.Input("image")],
                         outputs=[io.Image.Output(display_name=c) for c in "YUV"])

    @classmethod
    def execute(cls, image):
        return io.NodeOutput(*filters.rgb_to_yuv(image))


class ImageYUVToRGB(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = MORPHOLOGY

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ImageYUVToRGB", category="image/batch",
                         inputs=[io.Image.Input(c) for c in "YUV"], outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, Y, U, V):  # noqa: N803 - ComfyUI's input names
        return io.NodeOutput(filters.yuv_to_rgb(Y, U, V))


NODES = (ImageBlend, ImageBlur, ImageQuantize, ImageSharpen, ImageScaleToTotalPixels,
         ResizeImageMaskNode, BatchImagesNode, BatchMasksNode, BatchLatentsNode, Morphology,
         ImageRGBToYUV, ImageYUVToRGB)
NODE_CLASS_MAPPINGS = {cls.GET_SCHEMA().node_id: cls for cls in NODES}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
