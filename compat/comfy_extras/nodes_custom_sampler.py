"""`comfy_extras.nodes_custom_sampler`: ComfyUI's custom-sampling nodes (our built-in
classes) and the NOISE values packs build directly."""

from comfy_core.sampling.noise import RandomNoise as Noise_RandomNoise
from comfy_core.sampling.noise import ZeroNoise as Noise_EmptyNoise
from comfy_extras._catalog import export

globals().update(export(__name__))

__all__ = ["Noise_EmptyNoise", "Noise_RandomNoise"]
