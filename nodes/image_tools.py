"""Image tools (ComfyUI's comfy_extras images, compositing and rebatch modules): crop,
batch slices, noise, stitch, pad, size, rotate, flip, alpha compositing, rebatching and
animated saves."""

from __future__ import annotations

from comfy_core.images import animated, batching, compositing, geometry, latent_ops
from comfy_core.registry.v3 import io
from nodes.common import MAX_RESOLUTION, folders, setting

IMAGES = "comfy_extras.nodes_images"
COMPOSITING = "comfy_extras.nodes_compositing"
REBATCH = "comfy_extras.nodes_rebatch"


def _node(node_id: str, category: str, inputs: list, outputs: list, **extra) -> io.Schema:
    return io.Schema(node_id=node_id, category=category, inputs=inputs, outputs=outputs, **extra)


def _pixels(name: str, default: int, minimum: int = 1) -> io.Int.Input:
    return io.Int.Input(name, default=default, min=minimum, max=MAX_RESOLUTION, step=1)


class ImageCrop(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("ImageCrop", "image/transform", [
            io.Image.Input("image"), _pixels("width", 512), _pixels("height", 512),
            _pixels("x", 0, 0), _pixels("y", 0, 0)], [io.Image.Output()], display_name="Image Crop")

    @classmethod
    def execute(cls, image, width, height, x, y):
        return io.NodeOutput(geometry.crop(image, width, height, x, y))


class RepeatImageBatch(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("RepeatImageBatch", "image/batch", [
            io.Image.Input("image"), io.Int.Input("amount", default=1, min=1, max=4096)],
            [io.Image.Output()])

    @classmethod
    def execute(cls, image, amount):
        return io.NodeOutput(batching.repeat_batch(image, amount))


class ImageFromBatch(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("ImageFromBatch", "image/batch", [
            io.Image.Input("image"), io.Int.Input("batch_index", default=0, min=0, max=4095),
            io.Int.Input("length", default=1, min=1, max=4096)], [io.Image.Output()])

    @classmethod
    def execute(cls, image, batch_index, length):
        return io.NodeOutput(batching.from_batch(image, batch_index, length))


class ImageAddNoise(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("ImageAddNoise", "image", [
            io.Image.Input("image"),
            io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                         tooltip="Seed of the added noise (the same seed gives the same noise)."),
            io.Float.Input("strength", default=0.5, min=0.0, max=1.0, step=0.01)],
            [io.Image.Output()])

    @classmethod
    def execute(cls, image, seed, strength):
        return io.NodeOutput(batching.add_noise(image, seed, strength))


def _metadata(cls) -> dict:
    """prompt/extra_pnginfo of the running node (none with --disable-metadata)."""
    if setting("disable_metadata", False):
        return {"metadata": False}
    return {"metadata": True, "prompt": cls.hidden.prompt, "extra_pnginfo": cls.hidden.extra_pnginfo}


def _save_inputs() -> list:
    return [io.Image.Input("images"), io.String.Input("filename_prefix", default="ComfyUI"),
            io.Float.Input("fps", default=6.0, min=0.01, max=1000.0, step=0.01)]


class SaveAnimatedWEBP(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("SaveAnimatedWEBP", "image/animation", _save_inputs() + [
            io.Boolean.Input("lossless", default=True),
            io.Int.Input("quality", default=80, min=0, max=100),
            io.Combo.Input("method", options=list(animated.WEBP_METHODS))], [],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo], is_output_node=True)

    @classmethod
    def execute(cls, images, fps, filename_prefix, lossless, quality, method):
        entry = animated.save_animated_webp(images, folders(), filename_prefix, fps=fps,
                                            lossless=lossless, quality=quality, method=method,
                                            **_metadata(cls))
        return io.NodeOutput(ui=animated.animated_ui(entry, images.shape[0]))


class SaveAnimatedPNG(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("SaveAnimatedPNG", "image/animation", _save_inputs() + [
            io.Int.Input("compress_level", default=4, min=0, max=9)], [],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo], is_output_node=True)

    @classmethod
    def execute(cls, images, fps, compress_level, filename_prefix="ComfyUI"):
        entry = animated.save_animated_png(images, folders(), filename_prefix, fps=fps,
                                           compress_level=compress_level, **_metadata(cls))
        return io.NodeOutput(ui=animated.animated_ui(entry, images.shape[0]))


class ImageStitch(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("ImageStitch", "image/transform", [
            io.Image.Input("image1"),
            io.Combo.Input("direction", options=list(geometry.STITCH_DIRECTIONS), default="right"),
            io.Boolean.Input("match_image_size", default=True),
            io.Int.Input("spacing_width", default=0, min=0, max=1024, step=2),
            io.Combo.Input("spacing_color", options=list(geometry.SPACING_COLORS), default="white"),
            io.Image.Input("image2", optional=True)], [io.Image.Output()],
            display_name="Image Stitch",
            description="Joins image2 to image1 in the chosen direction (image1 alone when image2 "
                        "is not connected), optionally resizing it to match and adding a gap.")

    @classmethod
    def execute(cls, image1, direction, match_image_size, spacing_width, spacing_color,
                image2=None):
        return io.NodeOutput(geometry.stitch(image1, image2, direction, match_image_size,
                                             spacing_width, spacing_color))


class ResizeAndPadImage(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("ResizeAndPadImage", "image/transform", [
            io.Image.Input("image"), _pixels("target_width", 512), _pixels("target_height", 512),
            io.Combo.Input("padding_color", options=["white", "black"]),
            io.Combo.Input("interpolation", options=["area", "bicubic", "nearest-exact", "bilinear",
                                                     "lanczos"])], [io.Image.Output()])

    @classmethod
    def execute(cls, image, target_width, target_height, padding_color, interpolation):
        return io.NodeOutput(geometry.resize_and_pad(image, target_width, target_height,
                                                     padding_color, interpolation))


class GetImageSize(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("GetImageSize", "image", [io.Image.Input("image")],
                     [io.Int.Output(display_name=n) for n in ("width", "height", "batch_size")],
                     display_name="Get Image Size", hidden=[io.Hidden.unique_id],
                     description="Outputs the width, height and batch size of an image.")

    @classmethod
    def execute(cls, image):
        (width, height), batch = geometry.size_of(image), int(image.shape[0])
        return io.NodeOutput(width, height, batch)


class ImageRotate(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("ImageRotate", "image/transform", [
            io.Image.Input("image"), io.Combo.Input("rotation", options=list(geometry.ROTATIONS))],
            [io.Image.Output()])

    @classmethod
    def execute(cls, image, rotation):
        return io.NodeOutput(geometry.rotate(image, rotation))


class ImageFlip(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        return _node("ImageFlip", "image/transform", [
            io.Image.Input("image"), io.Combo.Input("flip_method", options=list(geometry.FLIPS))],
            [io.Image.Output()])

    @classmethod
    def execute(cls, image, flip_method):
        return io.NodeOutput(geometry.flip(image, flip_method))


class ImageScaleToMaxDimension(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = IMAGES

    @classmethod
    def define_schema(cls):
        methods = ["area", "lanczos", "bilinear", "nearest-exact", "bilinear", "bicubic"]
        return _node("ImageScaleToMaxDimension", "image/upscaling", [
            io.Image.Input("image"), io.Combo.Input("upscale_method", options=methods),
            _pixels("largest_size", 512, 0)], [io.Image.Output()])

    @classmethod
    def execute(cls, image, upscale_method, largest_size):
        return io.NodeOutput(geometry.scale_longer_side(image, largest_size, upscale_method))


class PorterDuffImageComposite(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = COMPOSITING

    @classmethod
    def define_schema(cls):
        return _node("PorterDuffImageComposite", "mask/compositing", [
            io.Image.Input("source"), io.Mask.Input("source_alpha"),
            io.Image.Input("destination"), io.Mask.Input("destination_alpha"),
            io.Combo.Input("mode", options=list(compositing.PORTER_DUFF_MODES), default="DST")],
            [io.Image.Output(), io.Mask.Output()], display_name="Porter-Duff Image Composite")

    @classmethod
    def execute(cls, source, source_alpha, destination, destination_alpha, mode):
        return io.NodeOutput(*compositing.composite_batch(source, source_alpha, destination,
                                                          destination_alpha, mode))


class SplitImageWithAlpha(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = COMPOSITING

    @classmethod
    def define_schema(cls):
        return _node("SplitImageWithAlpha", "mask/compositing", [io.Image.Input("image")],
                     [io.Image.Output(), io.Mask.Output()], display_name="Split Image with Alpha")

    @classmethod
    def execute(cls, image):
        return io.NodeOutput(*compositing.split_alpha(image))


class JoinImageWithAlpha(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = COMPOSITING

    @classmethod
    def define_schema(cls):
        return _node("JoinImageWithAlpha", "mask/compositing",
                     [io.Image.Input("image"), io.Mask.Input("alpha")], [io.Image.Output()],
                     display_name="Join Image with Alpha")

    @classmethod
    def execute(cls, image, alpha):
        return io.NodeOutput(compositing.join_alpha(image, alpha))


def _batch_size() -> io.Int.Input:
    return io.Int.Input("batch_size", default=1, min=1, max=4096)


class RebatchImages(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = REBATCH

    @classmethod
    def define_schema(cls):
        return _node("RebatchImages", "image/batch", [io.Image.Input("images"), _batch_size()],
                     [io.Image.Output(is_output_list=True)], display_name="Rebatch Images",
                     is_input_list=True)

    @classmethod
    def execute(cls, images, batch_size):
        return io.NodeOutput(batching.rebatch_images(images, batch_size[0]))


class RebatchLatents(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = REBATCH

    @classmethod
    def define_schema(cls):
        return _node("RebatchLatents", "latent/batch", [io.Latent.Input("latents"), _batch_size()],
                     [io.Latent.Output(is_output_list=True)], display_name="Rebatch Latents",
                     is_input_list=True)

    @classmethod
    def execute(cls, latents, batch_size):
        return io.NodeOutput(latent_ops.rebatch(latents, batch_size[0]))


NODES = (ImageCrop, RepeatImageBatch, ImageFromBatch, ImageAddNoise, SaveAnimatedWEBP,
         SaveAnimatedPNG, ImageStitch, ResizeAndPadImage, GetImageSize, ImageRotate, ImageFlip,
         ImageScaleToMaxDimension, PorterDuffImageComposite, SplitImageWithAlpha,
         JoinImageWithAlpha, RebatchImages, RebatchLatents)
NODE_CLASS_MAPPINGS = {cls.GET_SCHEMA().node_id: cls for cls in NODES}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
