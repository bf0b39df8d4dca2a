"""Loading TAESD decoders from `models/vae_approx/` (public names and layout).

ComfyUI finds a family's decoder as the first file of the vae_approx folder whose name
starts with "taesd_decoder" (SD1.x/SD2.x) or "taesdxl_decoder" (SDXL). Only safetensors are
read (the older .pth downloads are pickles; the same models ship as .safetensors).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

import torch

from comfy_core.loading.safetensors_io import SAFE_SUFFIXES, CheckpointError, load_state_dict
from comfy_core.models.taesd import TAESDDecoder

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


def load_decoder(path: str | Path, device: torch.device | str = "cpu") -> TAESDDecoder:
    """A TAESD decoder with the weights of `path`; errors name the file and what is wrong."""
    state = load_state_dict(path)
    first = state.get(FIRST_CONV)
    if first is None or first.ndim != 4:
        raise CheckpointError(f"{Path(path).name}: not a TAESD decoder (no {FIRST_CONV!r} "
                              "convolution)")
    decoder = TAESDDecoder(latent_channels=int(first.shape[1]))
    try:
        missing, unexpected = decoder.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise CheckpointError(f"{Path(path).name}: not a TAESD decoder: {exc}") from exc
    if missing or unexpected:
        raise CheckpointError(f"{Path(path).name}: not a TAESD decoder (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})")
    return decoder.to(device).eval()
