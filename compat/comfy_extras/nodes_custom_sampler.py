"""`comfy_extras.nodes_custom_sampler`: ComfyUI's custom-sampling nodes (our built-in
classes) and the NOISE values packs build directly."""

from comfy_core.sampling.guiders import BasicGuider as Guider_Basic  # noqa: N811 - ComfyUI's name
from comfy_core.sampling.noise import RandomNoise as Noise_RandomNoise
from comfy_core.sampling.noise import ZeroNoise as Noise_EmptyNoise
from comfy_extras._catalog import export

globals().update(export(__name__))


__all__ = ["Guider_Basic", "Noise_EmptyNoise", "Noise_RandomNoise"]
