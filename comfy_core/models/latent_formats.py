"""Latent formats with ComfyUI's interface (COMPAT-PLUGINS 3.12): what sampling's latent
space is relative to the VAE's (`process_in` = x·scale_factor, `process_out` the inverse),
and the linear latent->RGB preview factors and TAESD decoder name of each family.

Everything is a class attribute and the constructors take no argument, because plugins
build `SD15()` / `SDXL()` themselves, read the attributes off the class, and test a
model's format with `isinstance`. The RGB matrices are release data (rows = latent
channels, columns = R, G, B).
"""

from __future__ import annotations

from typing import Any


class LatentFormat:
    """Four 2-D channels scaled by `scale_factor`; no preview factors."""

    scale_factor: float = 1.0
    latent_channels: int = 4
    latent_dimensions: int = 2
    latent_rgb_factors: Any = None  # [channels][3]
    latent_rgb_factors_bias: Any = None  # [3]
    latent_rgb_factors_reshape: Any = None
    taesd_decoder_name: str | None = None

    def process_in(self, latent: Any) -> Any:
        """VAE latent -> sampling space."""
        return latent * self.scale_factor

    def process_out(self, latent: Any) -> Any:
        """Sampling space -> VAE latent."""
        return latent / self.scale_factor

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SD15(LatentFormat):
    """SD1.x and SD2.x."""

    scale_factor = 0.18215
    latent_rgb_factors = (
        (0.3512, 0.2297, 0.3227),
        (0.3250, 0.4974, 0.2350),
        (-0.2829, 0.1762, 0.2721),
        (-0.2120, -0.2616, -0.7177),
    )
    taesd_decoder_name = "taesd_decoder"


class SDXL(LatentFormat):
    """SDXL base and refiner."""

    scale_factor = 0.13025
    latent_rgb_factors = (
        (0.3651, 0.4232, 0.4341),
        (-0.2533, -0.0042, 0.1068),
        (0.1076, 0.1111, -0.0362),
        (-0.3165, -0.2492, -0.2188),
    )
    latent_rgb_factors_bias = (0.1084, -0.0175, -0.0011)
    taesd_decoder_name = "taesdxl_decoder"


class SD_X4(LatentFormat):  # noqa: N801 - ComfyUI's class name
    """The SD 2.x x4 upscaler's own VAE (4x downsampling)."""

    scale_factor = 0.08333
    latent_rgb_factors = (
        (-0.2340, -0.3863, -0.3257),
        (0.0994, 0.0885, -0.0908),
        (-0.2833, -0.2349, -0.3741),
        (0.2523, -0.0055, -0.1651),
    )


class SDXL_Playground_2_5(LatentFormat):  # noqa: N801 - ComfyUI's class name
    """Playground v2.5 (SDXL architecture): per-channel mean/std normalisation before the
    scale, as its VAE config's latents_mean / latents_std say."""

    scale_factor = 0.5
    latents_mean = (-1.6574, 1.886, -1.383, 2.5155)
    latents_std = (8.4927, 5.9022, 6.5498, 5.2299)
    latent_rgb_factors = (
        (0.3920, 0.4054, 0.4549),
        (-0.2634, -0.0196, 0.0653),
        (0.0568, 0.1687, -0.0755),
        (-0.3112, -0.2359, -0.2076),
    )
    taesd_decoder_name = "taesdxl_decoder"

    def _stats(self, latent: Any) -> tuple[Any, Any]:
        import torch

        def as_4d(values: tuple) -> Any:
            return torch.tensor(values, device=latent.device, dtype=latent.dtype).view(1, 4, 1, 1)
        return as_4d(self.latents_mean), as_4d(self.latents_std)

    def process_in(self, latent: Any) -> Any:
        mean, std = self._stats(latent)
        return (latent - mean) * self.scale_factor / std

    def process_out(self, latent: Any) -> Any:
        mean, std = self._stats(latent)
        return latent * std / self.scale_factor + mean
