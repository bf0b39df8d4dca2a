"""Exponential multistep samplers in data prediction: the second-order RES multistep
method (Zhang et al. 2023, "Improved Order Analysis and Design of Exponential Integrator for
Diffusion Models Sampling"), with optional ancestral noise and CFG++, and the ER-SDE solver
(Cui et al. 2023, "Elucidating the Solution Space of Extended Reverse-Time SDE for Diffusion
Models"). Time is λ = −log σ (α = 1 in the VE view)."""

from __future__ import annotations

from typing import Callable

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


def _lam(sigma: torch.Tensor) -> torch.Tensor:
    return sigma.log().neg()


def _res_weights(h: torch.Tensor, c2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RES second-order weights (b_1, b_2) of the current and previous prediction for a step
    of length h whose previous node sits at c2·h: b_1 = φ_1(−h) − φ_2(−h)/c2, b_2 = φ_2(−h)/c2."""
    phi1 = torch.expm1(-h) / -h
    phi2 = (phi1 - 1.0) / -h
    b2 = torch.nan_to_num(phi2 / c2, nan=0.0)
    return torch.nan_to_num(phi1 - phi2 / c2, nan=0.0), b2


def _res_multistep(denoise, x, sigmas, callback, noise, eta, s_noise, cfg_pp):  # type: ignore[no-untyped-def]
    """The shared loop. With CFG++ the state moves along the unconditional prediction and
    the guidance difference is added back at each step (Chung et al. 2024)."""
    s_in = ones_like_batch(x)
    old_pred, old_sigma_down = None, None
    for i in range(len(sigmas) - 1):
        if cfg_pp:
            denoised, pred = guided(denoise, x, sigmas[i] * s_in)
        else:
            denoised = pred = denoise(x, sigmas[i] * s_in)
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        report(callback, i, x, denoised)
        if (sigma_down == 0 or old_pred is None) and cfg_pp:
            x = denoised + to_d(x, sigmas[i], pred) * sigma_down  # Euler, CFG++ form
        elif sigma_down == 0 or old_pred is None:
            x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])  # Euler
        else:
            h = _lam(sigma_down) - _lam(sigmas[i])
            c2 = (_lam(sigmas[i - 1]) - _lam(old_sigma_down)) / h
            b1, b2 = _res_weights(h, c2)
            if cfg_pp:
                x = x + (denoised - pred)
            x = (-h).exp() * x + h * (b1 * pred + b2 * old_pred)
        if sigmas[i + 1] > 0 and eta > 0 and s_noise > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
        old_pred, old_sigma_down = pred, sigma_down
    return x


def sample_res_multistep(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    s_noise: float = 1.0,
) -> torch.Tensor:
    """RES second-order multistep (deterministic)."""
    return _res_multistep(denoise, x, sigmas, callback, noise, 0.0, s_noise, cfg_pp=False)


def sample_res_multistep_cfg_pp(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    s_noise: float = 1.0,
) -> torch.Tensor:
    """RES multistep with CFG++."""
    return _res_multistep(denoise, x, sigmas, callback, noise, 0.0, s_noise, cfg_pp=True)


def sample_res_multistep_ancestral(
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
    """RES multistep down to σ_down, then ancestral noise of std σ_up."""
    noise = noise or GaussianNoise(x, seed)
    return _res_multistep(denoise, x, sigmas, callback, noise, eta, s_noise, cfg_pp=False)


def sample_res_multistep_ancestral_cfg_pp(
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
    """Ancestral RES multistep with CFG++."""
    noise = noise or GaussianNoise(x, seed)
    return _res_multistep(denoise, x, sigmas, callback, noise, eta, s_noise, cfg_pp=True)


# ER-SDE: the stage integrals are sampled at this many points (a Riemann sum, as ComfyUI).
ER_SDE_POINTS = 200


def er_sde_noise_scaler(x: torch.Tensor) -> torch.Tensor:
    """The ER-SDE paper's default noise-scale function x·(e^{x^0.3} + 10)."""
    return x * ((x**0.3).exp() + 10.0)


def _er_sde_integrals(lam_s, lam_t, scaler):  # type: ignore[no-untyped-def]
    """∫ 1/s(λ) dλ and ∫ (λ − λ_s)/s(λ) dλ from λ_s down to λ_t, sampled from λ_t upwards."""
    step = (lam_s - lam_t) / ER_SDE_POINTS
    pos = lam_t + torch.arange(ER_SDE_POINTS, dtype=torch.float32) * step
    scaled = scaler(pos)
    return torch.sum(1 / scaled) * step, torch.sum((pos - lam_s) / scaled) * step


def sample_er_sde(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    s_noise: float = 1.0,
    noise_scaler: Callable[[torch.Tensor], torch.Tensor] | None = None,
    max_stage: int = 3,
) -> torch.Tensor:
    """ER-SDE-Solver-3 (VP form, λ_ER = σ/α = σ): a first-order step of the extended reverse
    SDE with noise-scale function s, plus second and third stages from divided differences
    of earlier predictions. s(x) = x gives the ODE, s(x) = x^(η+1) the reverse-time SDE."""
    noise = noise or GaussianNoise(x, seed)
    scaler = noise_scaler or er_sde_noise_scaler
    s_in = ones_like_batch(x)
    lams = sigmas.detach().cpu().float()  # λ_ER per step; σ stays on the host
    old_denoised, old_dd = None, None
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            old_denoised = denoised
            continue
        lam_s, lam_t = lams[i], lams[i + 1]
        ratio = scaler(lam_t) / scaler(lam_s)
        x = ratio * x + (1 - ratio) * denoised  # stage 1 (Euler-type)
        stage = min(int(max_stage), i + 1)
        if stage >= 2:
            dt = lam_t - lam_s
            s_1, s_u = _er_sde_integrals(lam_s, lam_t, scaler)
            dd = (denoised - old_denoised) / (lam_s - lams[i - 1])
            x = x + (dt + s_1 * scaler(lam_t)) * dd
            if stage >= 3:
                du = (dd - old_dd) / ((lam_s - lams[i - 2]) / 2)
                x = x + (dt**2 / 2 + s_u * scaler(lam_t)) * du
            old_dd = dd
        if s_noise > 0:
            std = (lam_t**2 - lam_s**2 * ratio**2).sqrt().nan_to_num(nan=0.0)
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * std
        old_denoised = denoised
    return x
