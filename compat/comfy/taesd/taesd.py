"""`comfy.taesd.taesd`: the tiny autoencoder's building blocks and ComfyUI's `TAESD` module
(COMPAT-PLUGINS 3.21), from `comfy_core.models.taesd`. Packs build previewers from
`TAESD(None, decoder_path, latent_channels)` and rebuild the network from `Block`, `Clamp`
and `conv`."""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.models.taesd import Block, Clamp, TAESDAutoencoder, conv  # noqa: F401
from comfy_core.models.taesd import TAESDDecoder as Decoder  # noqa: F401
from comfy_core.models.taesd import TAESDEncoder as Encoder  # noqa: F401


class TAESD(TAESDAutoencoder):
    """`TAESD(encoder_path=None, decoder_path=None, latent_channels=4)`: both halves, each
    loaded from its safetensors file when given; `decode` turns a sampling-space latent
    into pixels in -1..1, `encode` the reverse."""

    latent_magnitude = 3
    latent_shift = 0.5

    def __init__(self, encoder_path: str | Path | None = None, decoder_path: str | Path | None = None,
                 latent_channels: int = 4) -> None:
        super().__init__(latent_channels, scale_factor=1.0)
        for path, half in ((encoder_path, self.taesd_encoder), (decoder_path, self.taesd_decoder)):
            if path is not None:
                half.load_state_dict(load_state_dict(path))

    @staticmethod
    def scale_latents(x: torch.Tensor) -> torch.Tensor:
        """Raw latents -> 0..1."""
        return x.div(2 * TAESD.latent_magnitude).add(TAESD.latent_shift).clamp(0, 1)

    @staticmethod
    def unscale_latents(x: torch.Tensor) -> torch.Tensor:
        """0..1 -> raw latents."""
        return x.sub(TAESD.latent_shift).mul(2 * TAESD.latent_magnitude)
