"""`comfy.ldm.modules.distributions.distributions`: the autoencoder's posterior,
`comfy_core.models.distributions` under ComfyUI's path."""

from comfy_core.models.distributions import DiagonalGaussianDistribution  # noqa: F401
