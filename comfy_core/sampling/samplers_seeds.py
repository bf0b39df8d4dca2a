"""SEEDS: stochastic explicit exponential derivative-free solvers in data prediction
(Gonzalez et al. 2023, "SEEDS: Exponential SDE Solvers for Fast High-Quality Sampling from
Diffusion Models"), and the deterministic exponential Heun method they contain.

Time is λ = −log σ (half log-SNR of the VE view; α = 1), h = λ_{i+1} − λ_i. With η = 0 every
step is an explicit exponential Runge–Kutta step of the probability-flow ODE; with η > 0 the
state is partly re-noised along the way (the noise of one step is carried, decayed, into
the next stage so the stages share one Brownian path)."""

from __future__ import annotations

import torch

from comfy_core.sampling.noise import GaussianNoise, NoiseSampler
from comfy_core.sampling.sampler_base import Denoiser, StepCallback, ones_like_batch, report


def _phi1(h: torch.Tensor) -> torch.Tensor:
    """h·φ_1(h) = e^h − 1."""
    return torch.expm1(h)


def _phi2(h: torch.Tensor) -> torch.Tensor:
    """h·φ_2(h) = (e^h − 1 − h)/h."""
    return (torch.expm1(h) - h) / h


def _lam(sigma: torch.Tensor) -> torch.Tensor:
    return sigma.log().neg()


class _Stages:
    """The stochastic part shared by a step's stages: the carried noise z and its scale."""

    def __init__(self, noise: NoiseSampler, eta: float, s_noise: float, h: torch.Tensor) -> None:
        self.noise, self.eta, self.s_noise, self.h = noise, eta, s_noise, h
        self.on = eta > 0 and s_noise > 0
        self.z: torch.Tensor | None = None

    def decay(self, r: float) -> torch.Tensor:
        """e^{−r·h·η}: the share of x kept by a stage that covers the fraction r of the step."""
        return (-r * self.h * self.eta).exp()

    def add(self, x: torch.Tensor, sigma_from, sigma_to, r_from: float, r_to: float) -> torch.Tensor:  # type: ignore[no-untyped-def]
        """Carry z from the stage at r_from to the one at r_to and add it at σ_to."""
        if not self.on:
            return x
        segment = (r_from - r_to) * self.h * self.eta
        fresh = (2 * segment).expm1().neg().sqrt() * self.noise(sigma_from, sigma_to)
        self.z = fresh if self.z is None else self.z * segment.exp() + fresh
        return x + self.z * sigma_to * self.s_noise


def sample_seeds_2(
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
    solver_type: str = "phi_1",
) -> torch.Tensor:
    """SEEDS-2: one intermediate stage at λ_i + r·h; "phi_1" mixes the two predictions
    (weight 1/(2r) on the second), "phi_2" uses the second-order φ_2 weights."""
    if solver_type not in ("phi_1", "phi_2"):
        raise ValueError(f"solver_type must be 'phi_1' or 'phi_2', got {solver_type!r}")
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        h = _lam(sigmas[i + 1]) - _lam(sigmas[i])
        h_eta = h * (eta + 1)
        sigma_1 = (_lam(sigmas[i]) + r * h).neg().exp()
        st = _Stages(noise, eta, s_noise, h)
        x_2 = sigma_1 / sigmas[i] * st.decay(r) * x - _phi1(-r * h_eta) * denoised
        x_2 = st.add(x_2, sigmas[i], sigma_1, 0.0, r)
        denoised_2 = denoise(x_2, sigma_1 * s_in)
        if solver_type == "phi_1":
            mix = torch.lerp(denoised, denoised_2, 1 / (2 * r))
            x = sigmas[i + 1] / sigmas[i] * st.decay(1.0) * x - _phi1(-h_eta) * mix
        else:
            b2 = _phi2(-h_eta) / r
            b1 = _phi1(-h_eta) - b2
            x = sigmas[i + 1] / sigmas[i] * st.decay(1.0) * x - (b1 * denoised + b2 * denoised_2)
        x = st.add(x, sigma_1, sigmas[i + 1], r, 1.0)
    return x


def sample_seeds_3(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    eta: float = 1.0,
    s_noise: float = 1.0,
    r_1: float = 1 / 3,
    r_2: float = 2 / 3,
) -> torch.Tensor:
    """SEEDS-3: stages at λ_i + r_1·h and λ_i + r_2·h, third order at η = 0."""
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        lam = _lam(sigmas[i])
        h = _lam(sigmas[i + 1]) - lam
        h_eta = h * (eta + 1)
        sigma_1, sigma_2 = (lam + r_1 * h).neg().exp(), (lam + r_2 * h).neg().exp()
        st = _Stages(noise, eta, s_noise, h)
        x_2 = sigma_1 / sigmas[i] * st.decay(r_1) * x - _phi1(-r_1 * h_eta) * denoised
        x_2 = st.add(x_2, sigmas[i], sigma_1, 0.0, r_1)
        denoised_2 = denoise(x_2, sigma_1 * s_in)
        a32 = r_2 / r_1 * _phi2(-r_2 * h_eta)
        a31 = _phi1(-r_2 * h_eta) - a32
        x_3 = sigma_2 / sigmas[i] * st.decay(r_2) * x - (a31 * denoised + a32 * denoised_2)
        x_3 = st.add(x_3, sigma_1, sigma_2, r_1, r_2)
        denoised_3 = denoise(x_3, sigma_2 * s_in)
        b3 = _phi2(-h_eta) / r_2
        b1 = _phi1(-h_eta) - b3
        x = sigmas[i + 1] / sigmas[i] * st.decay(1.0) * x - (b1 * denoised + b3 * denoised_3)
        x = st.add(x, sigma_2, sigmas[i + 1], r_2, 1.0)
    return x


def sample_exp_heun_2_x0(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    solver_type: str = "phi_2",
) -> torch.Tensor:
    """Deterministic exponential Heun (second order) in data prediction and λ: SEEDS-2 with
    η = 0 and the stage at the end of the step (r = 1)."""
    return sample_seeds_2(denoise, x, sigmas, callback=callback, noise=noise, seed=seed, eta=0.0, s_noise=0.0,
                          r=1.0, solver_type=solver_type)


def sample_exp_heun_2_x0_sde(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    eta: float = 1.0,
    s_noise: float = 1.0,
    solver_type: str = "phi_2",
) -> torch.Tensor:
    """Stochastic exponential Heun: SEEDS-2 with the stage at the end of the step (r = 1)."""
    return sample_seeds_2(denoise, x, sigmas, callback=callback, noise=noise, seed=seed, eta=eta,
                          s_noise=s_noise, r=1.0, solver_type=solver_type)
