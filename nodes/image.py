"""Image nodes: create, scale, batch, pad, load from input/, save to output/ or temp/."""

from __future__ import annotations

from comfy_core.images import decode, png, resize, save, transforms
from nodes.common import MAX_RESOLUTION, folders, image_limits, setting

_SIZE = {"min": 1, "max": MAX_RESOLUTION, "step": 1}
_PAD = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 8}


class EmptyImage:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "width": ("INT", {"default": 512, **_SIZE}),
            "height": ("INT", {"default": 512, **_SIZE}),
            "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096}),
            "color": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFF, "step": 1,
                              "display": "color"}),
        }}

    def generate(self, width, height, batch_size=1, color=0):
        return (transforms.solid_image(width, height, batch_size, color),)


class ImageInvert:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "invert"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",)}}

    def invert(self, image):
        return (transforms.invert(image),)


class ImageScale:
    CATEGORY = "image/upscaling"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    upscale_methods = list(resize.IMAGE_UPSCALE_METHODS)
    crop_methods = list(resize.CROP_METHODS)

    @classmethod
    def INPUT_TYPES(cls):
        side = {"default": 512, "min": 0, "max": MAX_RESOLUTION, "step": 1}
        return {"required": {"image": ("IMAGE",), "upscale_method": (cls.upscale_methods,),
                             "width": ("INT", dict(side)), "height": ("INT", dict(side)),
                             "crop": (cls.crop_methods,)}}

    def upscale(self, image, upscale_method, width, height, crop):
        return (transforms.scale_to(image, width, height, upscale_method, crop),)


class ImageScaleBy:
    CATEGORY = "image/upscaling"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "upscale"
    upscale_methods = list(resize.IMAGE_UPSCALE_METHODS)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "upscale_method": (cls.upscale_methods,),
                             "scale_by": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0,
                                                    "step": 0.01})}}

    def upscale(self, image, upscale_method, scale_by):
        return (transforms.scale_by(image, scale_by, upscale_method),)


class ImageBatch:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "batch"
    DEPRECATED = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image1": ("IMAGE",), "image2": ("IMAGE",)}}

    def batch(self, image1, image2):
        return (transforms.batch_pair(image1, image2),)


class ImagePadForOutpaint:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "expand_image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE",), "left": ("INT", dict(_PAD)), "top": ("INT", dict(_PAD)),
            "right": ("INT", dict(_PAD)), "bottom": ("INT", dict(_PAD)),
            "feathering": ("INT", {"default": 40, "min": 0, "max": MAX_RESOLUTION, "step": 1}),
        }}

    def expand_image(self, image, left, top, right, bottom, feathering):
        return transforms.pad_for_outpaint(image, left, top, right, bottom, feathering)


class LoadImage:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"

    @classmethod
    def INPUT_TYPES(cls):
        files = decode.list_input_files(folders().input_dir)
        return {"required": {"image": (files, {"image_upload": True})}}

    def load_image(self, image):
        return decode.load_image(folders().annotated_path(image), image_limits())

    @classmethod
    def IS_CHANGED(cls, image, **_):
        return decode.file_sha256(folders().annotated_path(image))

    @classmethod
    def VALIDATE_INPUTS(cls, image):
        if not folders().annotated_exists(image):
            return f"Invalid image file: {image}"
        return True


class LoadImageOutput(LoadImage):
    """LoadImage over the output folder: the editor fills the combo from the
    /internal/files/output route, whose names carry " [output]"."""

    DESCRIPTION = ("Load an image from the output folder. When the refresh button is clicked, "
                   "the node updates the image list and selects the first image, for quick "
                   "iteration.")
    EXPERIMENTAL = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("COMBO", {
            "image_upload": True, "image_folder": "output",
            "remote": {"route": "/internal/files/output", "refresh_button": True,
                       "control_after_refresh": "first"}})}}


class WebcamCapture(LoadImage):
    """An image from the editor's webcam widget: the widget uploads each capture and its
    value names the file (width, height and capture_on_queue act in the editor)."""

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "load_capture"
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_webcam"

    @classmethod
    def INPUT_TYPES(cls):
        size = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 1}
        return {"required": {"image": ("WEBCAM", {}), "width": ("INT", dict(size)),
                             "height": ("INT", dict(size)),
                             "capture_on_queue": ("BOOLEAN", {"default": True})}}

    def load_capture(self, image, **_):
        return (self.load_image(image)[0],)

    @classmethod
    def IS_CHANGED(cls, image, **_):
        return decode.file_sha256(folders().annotated_path(image))


class SaveImage:
    CATEGORY = "image"
    RETURN_TYPES = ()
    FUNCTION = "save_images"
    OUTPUT_NODE = True
    DESCRIPTION = "Writes each image as a PNG into the output folder, with the prompt and workflow embedded."
    kind = "output"
    prefix_append = ""
    compress_level = png.SAVE_COMPRESS_LEVEL

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "Images to save."}),
                "filename_prefix": ("STRING", {"default": "ComfyUI", "tooltip": (
                    "Start of the file names; a '/' makes a subfolder of the output folder. "
                    "%width%, %height%, %year% ... %second% are filled in.")}),
            },
            "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"},
        }

    def save_images(self, images, filename_prefix="ComfyUI", prompt=None, extra_pnginfo=None):
        results = save.save_image_batch(
            images, folders(), filename_prefix + self.prefix_append, kind=self.kind,
            compress_level=self.compress_level, metadata=not setting("disable_metadata", False),
            prompt=prompt, extra_pnginfo=extra_pnginfo)
        return {"ui": {"images": results}}


class PreviewImage(SaveImage):
    kind = "temp"
    compress_level = png.PREVIEW_COMPRESS_LEVEL

    def __init__(self) -> None:
        self.prefix_append = save.preview_prefix_suffix()

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",)},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}


NODE_CLASS_MAPPINGS = {
    "EmptyImage": EmptyImage,
    "ImageInvert": ImageInvert,
    "ImageScale": ImageScale,
    "ImageScaleBy": ImageScaleBy,
    "ImageBatch": ImageBatch,
    "ImagePadForOutpaint": ImagePadForOutpaint,
    "LoadImage": LoadImage,
    "LoadImageOutput": LoadImageOutput,
    "WebcamCapture": WebcamCapture,
    "SaveImage": SaveImage,
    "PreviewImage": PreviewImage,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "ImageInvert": "Invert Image",
    "ImageScale": "Upscale Image",
    "ImageScaleBy": "Upscale Image By",
    "ImageBatch": "Batch Images",
    "ImagePadForOutpaint": "Pad Image for Outpainting",
    "LoadImage": "Load Image",
    "LoadImageOutput": "Load Image (from Outputs)",
    "WebcamCapture": "Webcam Capture",
    "SaveImage": "Save Image",
    "PreviewImage": "Preview Image",
}
