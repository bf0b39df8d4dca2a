"""Video UNet blocks (SVD and friends) under ComfyUI's names: see comfy._unsupported."""

from comfy._unsupported import unsupported_class

SpatialVideoTransformer = unsupported_class(
    "SpatialVideoTransformer", "a video UNet's spatio-temporal transformer", "comfy.ldm.modules.attention")
VideoResBlock = unsupported_class(
    "VideoResBlock", "a video UNet's temporal ResBlock", "comfy.ldm.modules.diffusionmodules.openaimodel")
