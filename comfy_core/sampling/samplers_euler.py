"""Euler-family samplers (Karras et al. 2022, "Elucidating the Design Space of
Diffusion-Based Generative Models"), k-diffusion style: each is a pure function of a
denoiser, x at σ_0 (VE units) and the σ schedule."""

from __future__ import annotations

import numpy as np
import torch

from comfy_core.sampling.noise import GaussianNoise, NoiseSampler
from comfy_core.sampling.sampler_base import (
    Denoiser,
    StepCallback,
    ancestral_step,
    guided,
    ones_like_batch,
    report,
    to_d,
)


def sample_euler(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Euler's method on the probability-flow ODE (Karras et al. 2022, Alg. 2, no churn)."""
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        d = to_d(x, sigmas[i], denoised)
        report(callback, i, x, denoised)
        x = x + d * (sigmas[i + 1] - sigmas[i])
    return x


def sample_euler_ancestral(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    eta: float = 1.0,
    s_noise: float = 1.0,
) -> torch.Tensor:
    """Ancestral Euler: Euler step down to σ_down, then fresh noise of std σ_up."""
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        report(callback, i, x, denoised)
        if sigma_down == 0:
            x = denoised
            continue
        d = to_d(x, sigmas[i], denoised)
        x = x + d * (sigma_down - sigmas[i])
        x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def sample_heun(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Heun's second-order method (Karras et al. 2022, Alg. 1); Euler on the last step."""
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        d = to_d(x, sigmas[i], denoised)
        report(callback, i, x, denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == 0:
            x = x + d * dt
            continue
        x_2 = x + d * dt
        d_2 = to_d(x_2, sigmas[i + 1], denoise(x_2, sigmas[i + 1] * s_in))
        x = x + (d + d_2) / 2 * dt
    return x


def sample_heunpp2(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Heun++ (third evaluation one step ahead, σ-weighted slopes); falls back to Heun
    and then Euler over the last two steps."""
    s_in = ones_like_batch(x)
    s_end = sigmas[-1]
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        d = to_d(x, sigmas[i], denoised)
        report(callback, i, x, denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == s_end:
            x = x + d * dt
            continue
        x_2 = x + d * dt
        d_2 = to_d(x_2, sigmas[i + 1], denoise(x_2, sigmas[i + 1] * s_in))
        if sigmas[i + 2] == s_end:
            w2 = sigmas[i + 1] / (2 * sigmas[0])
            x = x + (d * (1 - w2) + d_2 * w2) * dt
            continue
        x_3 = x_2 + d_2 * (sigmas[i + 2] - sigmas[i + 1])
        d_3 = to_d(x_3, sigmas[i + 2], denoise(x_3, sigmas[i + 2] * s_in))
        w2, w3 = sigmas[i + 1] / (3 * sigmas[0]), sigmas[i + 2] / (3 * sigmas[0])
        x = x + ((1 - w2 - w3) * d + w2 * d_2 + w3 * d_3) * dt
    return x


def sample_dpm_2(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """DPM-Solver-2 as an ODE midpoint method in log σ (Karras et al. 2022, Alg. 2
    variant; Lu et al. 2022)."""
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        d = to_d(x, sigmas[i], denoised)
        report(callback, i, x, denoised)
        if sigmas[i + 1] == 0:
            x = x + d * (sigmas[i + 1] - sigmas[i])
            continue
        sigma_mid = sigmas[i].log().lerp(sigmas[i + 1].log(), 0.5).exp()
        x_2 = x + d * (sigma_mid - sigmas[i])
        d_2 = to_d(x_2, sigma_mid, denoise(x_2, sigma_mid * s_in))
        x = x + d_2 * (sigmas[i + 1] - sigmas[i])
    return x


def sample_dpm_2_ancestral(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    eta: float = 1.0,
    s_noise: float = 1.0,
) -> torch.Tensor:
    """DPM-Solver-2 down to σ_down, then ancestral noise of std σ_up."""
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        d = to_d(x, sigmas[i], denoised)
        report(callback, i, x, denoised)
        if sigma_down == 0:
            x = x + d * (sigma_down - sigmas[i])
            continue
        sigma_mid = sigmas[i].log().lerp(sigma_down.log(), 0.5).exp()
        x_2 = x + d * (sigma_mid - sigmas[i])
        d_2 = to_d(x_2, sigma_mid, denoise(x_2, sigma_mid * s_in))
        x = x + d_2 * (sigma_down - sigmas[i])
        x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def lms_coefficient(order: int, t: np.ndarray, i: int, j: int) -> float:
    """∫_{t_i}^{t_{i+1}} of the j-th Lagrange basis polynomial through t_i, ..., t_{i−order+1}
    (exact polynomial integration)."""
    poly = np.poly1d([1.0])
    for k in range(order):
        if k != j:
            poly *= np.poly1d([1.0, -t[i - k]]) / (t[i - j] - t[i - k])
    antiderivative = poly.integ()
    return float(antiderivative(t[i + 1]) - antiderivative(t[i]))


def sample_lms(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    order: int = 4,
) -> torch.Tensor:
    """Linear multistep (Adams–Bashforth in σ on the Lagrange interpolant of d, order 4) as
    in k-diffusion; the step down to σ = 0 returns D (as ComfyUI does)."""
    t = sigmas.detach().cpu().double().numpy()
    s_in = ones_like_batch(x)
    ds: list[torch.Tensor] = []
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        ds = (ds + [to_d(x, sigmas[i], denoised)])[-order:]
        report(callback, i, x, denoised)
        if t[i + 1] == 0:
            x = denoised
            continue
        cur_order = min(i + 1, order)
        coeffs = [lms_coefficient(cur_order, t, i, j) for j in range(cur_order)]
        x = x + sum(c * d for c, d in zip(coeffs, reversed(ds)))
    return x


def sample_euler_cfg_pp(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """Euler with CFG++ (Chung et al. 2024): renoise along the unconditional direction."""
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised, uncond = guided(denoise, x, sigmas[i] * s_in)
        d = to_d(x, sigmas[i], uncond)
        report(callback, i, x, denoised)
        x = denoised + d * sigmas[i + 1]
    return x


def sample_euler_ancestral_cfg_pp(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    eta: float = 1.0,
    s_noise: float = 1.0,
) -> torch.Tensor:
    """Ancestral Euler with CFG++ (Chung et al. 2024)."""
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised, uncond = guided(denoise, x, sigmas[i] * s_in)
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        report(callback, i, x, denoised)
        x = denoised + to_d(x, sigmas[i], uncond) * sigma_down
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def sample_gradient_estimation(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    ge_gamma: float = 2.0,
    cfg_pp: bool = False,
) -> torch.Tensor:
    """Gradient estimation (Permenter & Yuan 2024, "Interpreting and Improving Diffusion
    Models from an Optimization Perspective"): an Euler step plus (γ − 1)·(d − d_prev)·Δσ,
    a momentum-like correction from the previous direction; the last step returns D."""
    s_in = ones_like_batch(x)
    old_d = None
    for i in range(len(sigmas) - 1):
        if cfg_pp:
            denoised, uncond = guided(denoise, x, sigmas[i] * s_in)
            d = to_d(x, sigmas[i], uncond)
        else:
            denoised = denoise(x, sigmas[i] * s_in)
            d = to_d(x, sigmas[i], denoised)
        report(callback, i, x, denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            x = denoised + d * sigmas[i + 1] if cfg_pp else x + d * dt
            if old_d is not None:
                x = x + (ge_gamma - 1) * (d - old_d) * dt
        old_d = d
    return x


def sample_gradient_estimation_cfg_pp(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    ge_gamma: float = 2.0,
) -> torch.Tensor:
    """Gradient estimation with CFG++ (steps along the unconditional prediction)."""
    return sample_gradient_estimation(denoise, x, sigmas, callback=callback, noise=noise, seed=seed,
                                      ge_gamma=ge_gamma, cfg_pp=True)
