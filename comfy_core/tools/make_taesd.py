"""Random-weight TAESD preview decoders in the public layout (`taesd_decoder.safetensors`,
`taesdxl_decoder.safetensors`: the same architecture, four latent channels), for tests and
benchmarks of latent previews. Reached through
`python -m comfy_core.tools.make_checkpoint --family sd15 --taesd OUT`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.taesd import TAESDDecoder
from comfy_core.tools.make_checkpoint import random_state


def build_taesd_decoder(seed: int = 0, latent_channels: int = 4) -> dict[str, torch.Tensor]:
    """The decoder's state dict (keys "1.weight", "3.conv.0.weight", ...) with random weights."""
    with torch.device("meta"):
        decoder = TAESDDecoder(latent_channels)
    return random_state(decoder, torch.Generator().manual_seed(seed), torch.float32)


def write_taesd_decoder(out: str | Path, seed: int = 0, latent_channels: int = 4) -> Path:
    """Write a random decoder to `out` (.safetensors)."""
    save_state_dict(build_taesd_decoder(seed, latent_channels), out)
    return Path(out)
