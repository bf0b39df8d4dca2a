"""Samplers that only the sampler nodes offer (not in KSampler's list): LCM with a latent
that grows during the early steps, and ComfyUI's alternative Euler CFG++ form."""

from __future__ import annotations

import numpy as np
import torch

from comfy_core.images import resize
from comfy_core.sampling.noise import NoiseSampler
from comfy_core.sampling.sampler_base import Denoiser, StepCallback, guided, ones_like_batch, report, to_d

UPSCALE_METHODS = ("bislerp", "nearest-exact", "bilinear", "area", "bicubic")


def sample_lcm_upscale(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    total_upscale: float = 2.0,
    upscale_method: str = "bislerp",
    upscale_steps: int | None = None,
) -> torch.Tensor:
    """LCM sampling (jump to D, re-noise at the next σ) that resizes D after each of the
    first `upscale_steps` steps, evenly up to `total_upscale` (default: about half the
    steps). The step noise comes from the seed, shaped like the resized latent."""
    if upscale_steps is None:
        upscale_steps = max(len(sigmas) // 2 + 1, 2)
    else:
        upscale_steps = min(upscale_steps + 1, len(sigmas) + 1)
    factors = np.linspace(1.0, total_upscale, upscale_steps)[1:]
    height, width = x.shape[-2:]
    generator = None if noise is not None else torch.Generator(device=x.device)
    if generator is not None:
        generator.manual_seed(int(seed or 0) + 1 if x.device.type == "cpu" else int(seed or 0))
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * ones_like_batch(x))
        report(callback, i, x, denoised)
        x = denoised
        if i < len(factors):
            x = resize.upscale(x, round(width * factors[i]), round(height * factors[i]), upscale_method, "disabled")
        if sigmas[i + 1] > 0:
            z = noise(sigmas[i], sigmas[i + 1]) if noise is not None else torch.randn(
                x.shape, dtype=x.dtype, device=x.device, generator=generator)
            x = x + sigmas[i + 1] * z
    return x


def sample_euler_cfg_pp_alternative(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Euler steps along d = (x − 2D + D_uncond)/σ (SamplerEulerCFG++'s "alternative")."""
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised, uncond = guided(denoise, x, sigmas[i] * s_in)
        d = to_d(x - denoised + uncond, sigmas[i], denoised)
        report(callback, i, x, denoised)
        x = x + d * (sigmas[i + 1] - sigmas[i])
    return x
