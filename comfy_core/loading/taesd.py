"""Loading TAESD from `models/vae_approx/` (public names and layout): the decoder for
previews, both halves as a VAE.

ComfyUI finds a family's decoder as the first file of the vae_approx folder whose name
starts with "taesd_decoder" (SD1.x/SD2.x) or "taesdxl_decoder" (SDXL), the encoder likewise
("taesd_encoder", "taesdxl_encoder"). Only safetensors are read (the older .pth downloads
are pickles; the same models ship as .safetensors).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

import torch

from comfy_core.loading.safetensors_io import SAFE_SUFFIXES, CheckpointError, load_state_dict
from comfy_core.models.taesd import TAESDAutoencoder, TAESDDecoder
from comfy_core.models.vae_value import VAE

log = logging.getLogger(__name__)

FIRST_CONV = "1.weight"  # [64, latent_channels, 3, 3]


def find_decoder(names: Iterable[str], decoder_name: str) -> str | None:
    """The first safetensors file named `decoder_name*` among `names` (a vae_approx listing);
    a pickle-only match is reported once in the log."""
    matches = [n for n in names if Path(n).name.startswith(decoder_name)]
    safe = [n for n in matches if Path(n).suffix.lower() in SAFE_SUFFIXES]
    if not safe and matches:
        log.warning("%s is not a safetensors file; TAESD previews need %s.safetensors (pickle "
                    "files are never loaded)", matches[0], decoder_name)
    return safe[0] if safe else None


def _latent_channels(state: dict, path: str | Path) -> int:
    first = state.get(FIRST_CONV)
    if first is None or first.ndim != 4:
        raise CheckpointError(f"{Path(path).name}: not a TAESD decoder (no {FIRST_CONV!r} "
                              "convolution)")
    return int(first.shape[1])


def _fill(module: torch.nn.Module, state: dict, path: str | Path, what: str) -> None:
    """Load `state` (read from `path`) into `module`; errors name the file and the problem."""
    name = Path(path).name
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise CheckpointError(f"{name}: not a TAESD {what}: {exc}") from exc
    if missing or unexpected:
        raise CheckpointError(f"{name}: not a TAESD {what} (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})")


def load_decoder(path: str | Path, device: torch.device | str = "cpu") -> TAESDDecoder:
    """A TAESD decoder with the weights of `path`; errors name the file and what is wrong."""
    state = load_state_dict(path)
    decoder = TAESDDecoder(latent_channels=_latent_channels(state, path))
    _fill(decoder, state, path, "decoder")
    return decoder.to(device).eval()


def load_vae(encoder: str | Path, decoder: str | Path, scale_factor: float,
             device: torch.device | str = "cpu", load_device: torch.device | str | None = None) -> VAE:
    """Both halves as a VAE value (VAELoader's "taesd" / "taesdxl"); `scale_factor` is the
    family's latent scale (TAESD works on scaled latents, the VAE interface on raw ones)."""
    decoder_state = load_state_dict(decoder)
    module = TAESDAutoencoder(_latent_channels(decoder_state, decoder), scale_factor)
    _fill(module.taesd_encoder, load_state_dict(encoder), encoder, "encoder")
    _fill(module.taesd_decoder, decoder_state, decoder, "decoder")
    module = module.to(device).eval().requires_grad_(False)
    return VAE(module, load_device or device, device)
