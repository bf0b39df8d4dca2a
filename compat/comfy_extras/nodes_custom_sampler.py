"""`comfy_extras.nodes_custom_sampler`: ComfyUI's custom-sampling nodes (our built-in
classes) and the NOISE values packs build directly."""

from comfy.samplers import LoadsModel
from comfy_core.sampling.guiders import BasicGuider as _BasicGuiderValue
from comfy_core.sampling.noise import RandomNoise as Noise_RandomNoise
from comfy_core.sampling.noise import ZeroNoise as Noise_EmptyNoise
from comfy_extras._catalog import export

globals().update(export(__name__))


class Guider_Basic(LoadsModel, _BasicGuiderValue):  # noqa: N801 - ComfyUI's class name
    """One conditioning, no guidance; loads its model when sampling starts."""


__all__ = ["Guider_Basic", "Noise_EmptyNoise", "Noise_RandomNoise"]
