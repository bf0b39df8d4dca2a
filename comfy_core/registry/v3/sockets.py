"""Socket types of the V3 schema: one class per classic type name (IMAGE, MODEL, ...).

The class names are the ones plugins write (`io.Image`, `io.Vae`, `io.ControlNet`); the
`io_type` strings are the classic RETURN_TYPES names, so V1 and V3 nodes link freely.
`Type` stays `Any`: the engine half never imports torch, so no tensor type hints here.
"""

from __future__ import annotations

from comfy_core.registry.v3.base import ComfyTypeIO, comfytype


def _socket(name: str, io_type: str) -> type[ComfyTypeIO]:
    """A socket type class called `name` for the classic type `io_type`."""
    cls = type(name, (ComfyTypeIO,), {"__module__": __name__, "__qualname__": name})
    return comfytype(io_type=io_type)(cls)


Image = _socket("Image", "IMAGE")
WanCameraEmbedding = _socket("WanCameraEmbedding", "WAN_CAMERA_EMBEDDING")
Mask = _socket("Mask", "MASK")
Latent = _socket("Latent", "LATENT")
Conditioning = _socket("Conditioning", "CONDITIONING")
Sampler = _socket("Sampler", "SAMPLER")
Sigmas = _socket("Sigmas", "SIGMAS")
Noise = _socket("Noise", "NOISE")
Guider = _socket("Guider", "GUIDER")
Clip = _socket("Clip", "CLIP")
ControlNet = _socket("ControlNet", "CONTROL_NET")
Vae = _socket("Vae", "VAE")
Model = _socket("Model", "MODEL")
MODEL_PATCH = _socket("MODEL_PATCH", "MODEL_PATCH")
ClipVision = _socket("ClipVision", "CLIP_VISION")
ClipVisionOutput = _socket("ClipVisionOutput", "CLIP_VISION_OUTPUT")
AudioEncoder = _socket("AudioEncoder", "AUDIO_ENCODER")
AudioEncoderOutput = _socket("AudioEncoderOutput", "AUDIO_ENCODER_OUTPUT")
StyleModel = _socket("StyleModel", "STYLE_MODEL")
Gligen = _socket("Gligen", "GLIGEN")
UpscaleModel = _socket("UpscaleModel", "UPSCALE_MODEL")
LatentUpscaleModel = _socket("LatentUpscaleModel", "LATENT_UPSCALE_MODEL")
Audio = _socket("Audio", "AUDIO")
Video = _socket("Video", "VIDEO")
SVG = _socket("SVG", "SVG")
LoraModel = _socket("LoraModel", "LORA_MODEL")
LossMap = _socket("LossMap", "LOSS_MAP")
Voxel = _socket("Voxel", "VOXEL")
Mesh = _socket("Mesh", "MESH")
Hooks = _socket("Hooks", "HOOKS")
HookKeyframes = _socket("HookKeyframes", "HOOK_KEYFRAMES")
TimestepsRange = _socket("TimestepsRange", "TIMESTEPS_RANGE")
LatentOperation = _socket("LatentOperation", "LATENT_OPERATION")
FlowControl = _socket("FlowControl", "FLOW_CONTROL")
Accumulation = _socket("Accumulation", "ACCUMULATION")
Load3DCamera = _socket("Load3DCamera", "LOAD3D_CAMERA")
Load3D = _socket("Load3D", "LOAD_3D")
Load3DAnimation = _socket("Load3DAnimation", "LOAD_3D_ANIMATION")
Photomaker = _socket("Photomaker", "PHOTOMAKER")
Point = _socket("Point", "POINT")
FaceAnalysis = _socket("FaceAnalysis", "FACE_ANALYSIS")
BBOX = _socket("BBOX", "BBOX")
SEGS = _socket("SEGS", "SEGS")
Tracks = _socket("Tracks", "TRACKS")
AnyType = _socket("AnyType", "*")

__all__ = [
    "Image", "WanCameraEmbedding", "Mask", "Latent", "Conditioning", "Sampler", "Sigmas",
    "Noise", "Guider", "Clip", "ControlNet", "Vae", "Model", "MODEL_PATCH", "ClipVision",
    "ClipVisionOutput", "AudioEncoder", "AudioEncoderOutput", "StyleModel", "Gligen",
    "UpscaleModel", "LatentUpscaleModel", "Audio", "Video", "SVG", "LoraModel", "LossMap",
    "Voxel", "Mesh", "Hooks", "HookKeyframes", "TimestepsRange", "LatentOperation",
    "FlowControl", "Accumulation", "Load3DCamera", "Load3D", "Load3DAnimation",
    "Photomaker", "Point", "FaceAnalysis", "BBOX", "SEGS", "Tracks", "AnyType",
]
