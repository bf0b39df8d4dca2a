"""`comfy.float`: storing a float32 result in a narrower dtype, as patchers do after
applying weight patches (GGUF's patcher calls `stochastic_rounding`)."""

from __future__ import annotations

import torch

_FP8 = {getattr(torch, n) for n in ("float8_e4m3fn", "float8_e5m2") if hasattr(torch, n)}


def stochastic_rounding(value: torch.Tensor, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """`value` in `dtype`. Float types of 16 bits and more round to nearest. For fp8 the
    result is one of the two representable neighbours, chosen with probability by
    distance from a generator seeded with `seed` (unbiased on average, as ComfyUI's)."""
    if dtype not in _FP8:
        return value.to(dtype)
    nearest = value.to(dtype)
    near = nearest.to(torch.float32)
    gap = value.float() - near
    step = _neighbour_step(near, gap, dtype)
    generator = torch.Generator(device=value.device).manual_seed(seed)
    chance = torch.rand(value.shape, generator=generator, device=value.device)
    away = (step != 0) & (chance < (gap.abs() / step.abs().clamp_min(torch.finfo(torch.float32).tiny)))
    return torch.where(away, (near + step).to(dtype), nearest)


def _neighbour_step(near: torch.Tensor, gap: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Signed distance from `near` to the next representable value on the side of `gap`
    (a step towards zero from a power of two lands in the binade below)."""
    mantissa = 3 if dtype == torch.float8_e4m3fn else 2
    toward_zero = (gap * near) < 0
    magnitude = near.abs() * torch.where(toward_zero, 1.0 - 2.0 ** -8, 1.0)
    exponent = torch.floor(torch.log2(magnitude.clamp_min(torch.finfo(dtype).smallest_normal)))
    ulp = torch.pow(2.0, exponent - mantissa)
    return torch.where(gap == 0, torch.zeros_like(gap), torch.sign(gap) * ulp)
