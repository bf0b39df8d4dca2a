"""Operations on σ schedules (SIGMAS values: 1-D float tensors, descending, usually ending
in 0) used to chain samplers and models: split, flip, set the first σ, insert steps."""

from __future__ import annotations

import math
import re
from typing import Callable

import torch

FLIPPED_ZERO = 0.0001  # a flipped schedule starts here instead of at σ = 0
# Where inserted points sit within a step, as functions of the even fraction x in (0, 1).
SPACINGS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "linear": lambda x: x,
    "cosine": lambda x: torch.sin(x * math.pi / 2),
    "sine": lambda x: 1 - torch.cos(x * math.pi / 2),
}
_NUMBER = re.compile(r"[-+]?(?:\d*\.*\d+)")


def split(sigmas: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(σ_0..σ_step, σ_step..σ_N): both halves share the σ at the cut."""
    return sigmas[: step + 1], sigmas[step:]


def split_denoise(sigmas: torch.Tensor, denoise: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut so the low half holds the last round(N·denoise) steps."""
    steps = max(sigmas.shape[-1] - 1, 0)
    low_steps = round(steps * denoise)
    return sigmas[:-low_steps], sigmas[-(low_steps + 1):]


def flip(sigmas: torch.Tensor) -> torch.Tensor:
    """Reversed (low to high, e.g. for inversion); a leading 0 becomes 0.0001."""
    if len(sigmas) == 0:
        return sigmas
    flipped = sigmas.flip(0)
    if flipped[0] == 0:
        flipped[0] = FLIPPED_ZERO
    return flipped


def set_first(sigmas: torch.Tensor, sigma: float) -> torch.Tensor:
    """A copy with σ_0 replaced."""
    out = sigmas.clone()
    out[0] = sigma
    return out


def extend_intermediate(sigmas: torch.Tensor, steps: int, start_at_sigma: float, end_at_sigma: float,
                        spacing: str = "linear") -> torch.Tensor:
    """Split every step whose starting σ lies in [end_at_sigma, start_at_sigma] (a negative
    start means no upper bound) into `steps` sub-steps, spaced by `spacing`."""
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {list(SPACINGS)}, got {spacing!r}")
    upper = math.inf if start_at_sigma < 0 else start_at_sigma
    fractions = SPACINGS[spacing](torch.linspace(0, 1, steps + 1)[1:-1])
    out: list[float] = []
    for i in range(len(sigmas) - 1):
        current, following = sigmas[i], sigmas[i + 1]
        out.append(float(current))
        if end_at_sigma <= current <= upper:
            out.extend((fractions * (following - current) + current).tolist())
    if len(sigmas) > 0:
        out.append(float(sigmas[-1]))
    return torch.FloatTensor(out)


def parse(text: str) -> torch.Tensor:
    """Every number in `text` (any separators) as a SIGMAS tensor."""
    return torch.FloatTensor([float(v) for v in _NUMBER.findall(text)])
