"""DPM-Solver++ family (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of
Diffusion Probabilistic Models") in k-diffusion's σ form, λ = −log σ (EPS/V models)."""

from __future__ import annotations

import torch

from comfy_core.sampling.noise import GaussianNoise, NoiseSampler, brownian_noise
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


def sample_dpmpp_2s_ancestral(
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
    """DPM-Solver++(2S), single-step second order, with ancestral noise."""
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        report(callback, i, x, denoised)
        if sigma_down == 0:
            x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        else:
            t, t_next = _lam(sigmas[i]), _lam(sigma_down)
            h = t_next - t
            s = t + h / 2
            x_2 = (s.neg().exp() / t.neg().exp()) * x - (-h / 2).expm1() * denoised
            denoised_2 = denoise(x_2, s.neg().exp() * s_in)
            x = (t_next.neg().exp() / t.neg().exp()) * x - (-h).expm1() * denoised_2
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


def sample_dpmpp_sde(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    eta: float = 1.0,
    s_noise: float = 1.0,
    r: float = 0.5,
) -> torch.Tensor:
    """DPM-Solver++ SDE, two stages per step (r = ½) with Brownian-tree noise."""
    if len(sigmas) <= 1:
        return x
    noise = noise or brownian_noise(x, sigmas, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        t, t_next = _lam(sigmas[i]), _lam(sigmas[i + 1])
        s = t + (t_next - t) * r
        sigma_s = s.neg().exp()
        # Stage 1: to σ_s (ancestral split), noise via the tree.
        sd, su = ancestral_step(sigmas[i], sigma_s, eta)
        x_2 = (sd / sigmas[i]) * x - (t - _lam(sd)).expm1() * denoised
        x_2 = x_2 + noise(sigmas[i], sigma_s) * s_noise * su
        denoised_2 = denoise(x_2, sigma_s * s_in)
        # Stage 2: to σ_{i+1} with the mixed derivative estimate.
        sd, su = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        fac = 1 / (2 * r)
        denoised_d = (1 - fac) * denoised + fac * denoised_2
        x = (sd / sigmas[i]) * x - (t - _lam(sd)).expm1() * denoised_d
        x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * su
    return x


def sample_dpmpp_2m(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M), multistep second order (Lu et al. 2022, Alg. 2)."""
    s_in = ones_like_batch(x)
    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            t, t_next = _lam(sigmas[i]), _lam(sigmas[i + 1])
            h = t_next - t
            if old_denoised is None:
                denoised_d = denoised
            else:
                r = (t - _lam(sigmas[i - 1])) / h
                denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
            x = (t_next.neg().exp() / t.neg().exp()) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


def sample_dpmpp_2m_sde(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    eta: float = 1.0,
    s_noise: float = 1.0,
    solver_type: str = "midpoint",
) -> torch.Tensor:
    """DPM-Solver++(2M) SDE with Brownian-tree noise; `solver_type` picks the midpoint or
    the Heun-type second-order correction."""
    if solver_type not in ("midpoint", "heun"):
        raise ValueError(f"solver_type must be 'midpoint' or 'heun', got {solver_type!r}")
    if len(sigmas) <= 1:
        return x
    noise = noise or brownian_noise(x, sigmas, seed)
    s_in = ones_like_batch(x)
    old_denoised, h_last, h = None, None, None
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            h = _lam(sigmas[i + 1]) - _lam(sigmas[i])
            eta_h = eta * h
            x = sigmas[i + 1] / sigmas[i] * (-eta_h).exp() * x + (-h - eta_h).expm1().neg() * denoised
            if old_denoised is not None:
                r = h_last / h
                phi = (-h - eta_h).expm1().neg()
                coef = (phi / (-h - eta_h) + 1) if solver_type == "heun" else 0.5 * phi
                x = x + coef * (1 / r) * (denoised - old_denoised)
            if eta and s_noise:
                scale = sigmas[i + 1] * (-2 * eta_h).expm1().neg().sqrt() * s_noise
                x = x + noise(sigmas[i], sigmas[i + 1]) * scale
        old_denoised, h_last = denoised, h
    return x


def sample_dpmpp_2m_sde_heun(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    eta: float = 1.0,
    s_noise: float = 1.0,
    solver_type: str = "heun",
) -> torch.Tensor:
    """DPM-Solver++(2M) SDE, the Heun-type correction by default."""
    return sample_dpmpp_2m_sde(denoise, x, sigmas, callback=callback, noise=noise, seed=seed, eta=eta,
                               s_noise=s_noise, solver_type=solver_type)


def sample_dpmpp_3m_sde(
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
    """DPM-Solver++(3M) SDE: third-order multistep with exponential-integrator φ terms."""
    if len(sigmas) <= 1:
        return x
    noise = noise or brownian_noise(x, sigmas, seed)
    s_in = ones_like_batch(x)
    d_1, d_2 = None, None  # previous two denoised
    h, h_1, h_2 = None, None, None
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            h = _lam(sigmas[i + 1]) - _lam(sigmas[i])
            h_eta = h * (eta + 1)
            x = torch.exp(-h_eta) * x + (-h_eta).expm1().neg() * denoised
            phi_2 = h_eta.neg().expm1() / h_eta + 1
            if h_2 is not None:
                r0, r1 = h_1 / h, h_2 / h
                d1_0 = (denoised - d_1) / r0
                d1_1 = (d_1 - d_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                x = x + phi_2 * d1 - (phi_2 / h_eta - 0.5) * d2
            elif h_1 is not None:
                x = x + phi_2 * (denoised - d_1) / (h_1 / h)
            if eta:
                scale = sigmas[i + 1] * (-2 * h * eta).expm1().neg().sqrt() * s_noise
                x = x + noise(sigmas[i], sigmas[i + 1]) * scale
        d_1, d_2 = denoised, d_1
        h_1, h_2 = h, h_1
    return x


def sample_dpmpp_2m_cfg_pp(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) with CFG++ (Chung et al. 2024): the state update follows the
    unconditional prediction, the output the guided one."""
    s_in = ones_like_batch(x)
    old_uncond = None
    for i in range(len(sigmas) - 1):
        denoised, uncond = guided(denoise, x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        h = _lam(sigmas[i + 1]) - _lam(sigmas[i])
        if old_uncond is None or sigmas[i + 1] == 0:
            mix = -torch.exp(-h) * uncond
        else:
            r = (_lam(sigmas[i]) - _lam(sigmas[i - 1])) / h
            mix = -torch.exp(-h) * uncond - torch.expm1(-h) * (1 / (2 * r)) * (denoised - old_uncond)
        x = denoised + mix + torch.exp(-h) * x
        old_uncond = uncond
    return x


def sample_dpmpp_2s_ancestral_cfg_pp(
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
    """DPM-Solver++(2S) ancestral with CFG++ (Chung et al. 2024): both stages follow the
    unconditional prediction and the step's guidance difference (CFG result − uncond at
    the start) is added back after the noise."""
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised, uncond = guided(denoise, x, sigmas[i] * s_in)
        guidance = denoised - uncond
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        report(callback, i, x, denoised)
        if sigma_down == 0:
            x = x + to_d(x, sigmas[i], uncond) * (sigma_down - sigmas[i])
        else:
            t, t_next = _lam(sigmas[i]), _lam(sigma_down)
            h = t_next - t
            s = t + h / 2
            x_2 = (s.neg().exp() / t.neg().exp()) * x - (-h / 2).expm1() * uncond
            uncond_2 = guided(denoise, x_2, s.neg().exp() * s_in).uncond
            x = (t_next.neg().exp() / t.neg().exp()) * x - (-h).expm1() * uncond_2
        if sigmas[i + 1] > 0:
            x = x + noise(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
        x = x + guidance
    return x


def _gpu_tree(fn):  # type: ignore[no-untyped-def]
    """The `_gpu` variant of an SDE sampler: its Brownian tree lives on x's device."""

    def sample(denoise: Denoiser, x: torch.Tensor, sigmas: torch.Tensor, *, noise: NoiseSampler | None = None,
               seed: int | None = None, **options) -> torch.Tensor:
        if len(sigmas) > 1:
            noise = noise or brownian_noise(x, sigmas, seed, cpu=False)
        return fn(denoise, x, sigmas, noise=noise, seed=seed, **options)

    sample.__name__ = fn.__name__ + "_gpu"
    sample.__doc__ = f"{fn.__doc__} Brownian tree on the model device."
    sample.__wrapped__ = fn  # its keyword options are fn's
    return sample


sample_dpmpp_sde_gpu = _gpu_tree(sample_dpmpp_sde)
sample_dpmpp_2m_sde_gpu = _gpu_tree(sample_dpmpp_2m_sde)
sample_dpmpp_2m_sde_heun_gpu = _gpu_tree(sample_dpmpp_2m_sde_heun)
sample_dpmpp_3m_sde_gpu = _gpu_tree(sample_dpmpp_3m_sde)
