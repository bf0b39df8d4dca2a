"""The sinusoidal embedding of scalar conditioning values (SDXL sizes, unCLIP noise levels)."""

from __future__ import annotations

import math
from typing import Sequence

import torch


def timestep_embedding(values: Sequence[float], dim: int = 256) -> torch.Tensor:
    """Sinusoidal embedding [n, dim] = [cos(v·f_k), sin(v·f_k)], f_k = 10000^(−k/(dim/2))
    (Vaswani et al. 2017; SDXL size conditioning, Podell et al. 2023)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(0, half, dtype=torch.float32) / half)
    args = torch.tensor(values, dtype=torch.float32)[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
