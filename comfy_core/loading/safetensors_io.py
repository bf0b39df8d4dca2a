"""Reading and writing weight files. Only safetensors: pickle files can run code when
loaded, so .ckpt/.pt/.pth/.bin are refused with a message saying what to do instead."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

log = logging.getLogger(__name__)

SAFE_SUFFIXES = (".safetensors", ".sft")
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")


class CheckpointError(ValueError):
    """A weight file that cannot be used; the message names the file and the problem."""


def load_state_dict(path: str | Path, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, read straight onto `device` (no host copy first
    when the weights are to rest on an accelerator)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{path.name}: pickle checkpoints ({suffix}) are refused because loading them can run "
            "arbitrary code; convert the file to .safetensors"
        )
    if suffix not in SAFE_SUFFIXES:
        raise CheckpointError(f"{path.name}: expected a .safetensors file, got {suffix or 'no extension'!r}")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt", device=str(torch.device(device))) as f:
            return {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: not a valid safetensors file (truncated or corrupt?): {exc}") from exc


def save_state_dict(state: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write contiguous tensors to `path` (a .safetensors file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata=metadata)
    log.info("wrote %d tensors to %s", len(state), path)
