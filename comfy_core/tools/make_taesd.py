"""Random-weight TAESD decoders and encoders in the public layout
(`taesd_decoder.safetensors`, `taesdxl_encoder.safetensors`, ...: the same architecture
for SD1.x/SD2.x and SDXL, four latent channels), for tests and benchmarks of latent
previews and of VAELoader's "taesd". Reached through
`python -m comfy_core.tools.make_checkpoint --family sd15 --taesd OUT [--taesd-encoder OUT]`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.taesd import TAESDDecoder, TAESDEncoder
from comfy_core.tools.make_checkpoint import random_state


def build_taesd(part: str, seed: int = 0, latent_channels: int = 4) -> dict[str, torch.Tensor]:
    """A "decoder" or "encoder" state dict (keys "1.weight", "3.conv.0.weight", ...) with
    random weights."""
    with torch.device("meta"):
        module = TAESDDecoder(latent_channels) if part == "decoder" else TAESDEncoder(latent_channels)
    return random_state(module, torch.Generator().manual_seed(seed), torch.float32)


def write_taesd_decoder(out: str | Path, seed: int = 0, latent_channels: int = 4) -> Path:
    """Write a random decoder to `out` (.safetensors)."""
    save_state_dict(build_taesd("decoder", seed, latent_channels), out)
    return Path(out)


def write_taesd_encoder(out: str | Path, seed: int = 0, latent_channels: int = 4) -> Path:
    """Write a random encoder to `out` (.safetensors)."""
    save_state_dict(build_taesd("encoder", seed, latent_channels), out)
    return Path(out)
