"""Samplers that re-noise from the denoised estimate at every step: DDPM ancestral
sampling (Ho et al. 2020, eq. 11) and LCM's multistep consistency sampling (Luo et al.
2023, "Latent Consistency Models", Alg. 1)."""

from __future__ import annotations

import torch

from comfy_core.sampling.noise import GaussianNoise, NoiseSampler
from comfy_core.sampling.sampler_base import (
    Denoiser,
    StepCallback,
    ones_like_batch,
    report,
)


def _ddpm_step(
    x_vp: torch.Tensor, sigma: torch.Tensor, sigma_prev: torch.Tensor, eps: torch.Tensor, z: NoiseSampler
) -> torch.Tensor:
    """Posterior mean μ(x_t, ε̂) plus σ_posterior·z, all in VP units."""
    ab = 1 / (sigma * sigma + 1)  # ᾱ_t
    ab_prev = 1 / (sigma_prev * sigma_prev + 1)  # ᾱ_{t−1}
    alpha = ab / ab_prev
    mu = (1.0 / alpha).sqrt() * (x_vp - (1 - alpha) * eps / (1 - ab).sqrt())
    if sigma_prev > 0:
        mu = mu + ((1 - alpha) * (1.0 - ab_prev) / (1.0 - ab)).sqrt() * z(sigma, sigma_prev)
    return mu


def sample_ddpm(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """DDPM ancestral sampling on the given σ schedule (VE state converted per step)."""
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        eps = (x - denoised) / sigmas[i]
        x = _ddpm_step(x / torch.sqrt(1.0 + sigmas[i] ** 2.0), sigmas[i], sigmas[i + 1], eps, noise)
        if sigmas[i + 1] != 0:
            x = x * torch.sqrt(1.0 + sigmas[i + 1] ** 2.0)
    return x


def sample_lcm(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Jump to the denoised estimate, then add fresh noise at the next σ."""
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        x = denoised
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1]
    return x
