"""Adams–Bashforth multistep samplers on the probability-flow ODE dx/dσ = d = (x − D)/σ:
iPNDM with fixed and with variable-step coefficients (Zhang & Chen 2023, "Fast Sampling of
Diffusion Models with Exponential Integrator"; the variable-step form from Zhou et al. 2024,
"Fast ODE-based Sampling for Diffusion Models in Around 5 Steps"), and DEIS's tAB, which
interpolates d in the VP time t and integrates it against dσ/dt (Zhang & Chen 2023).

Every step takes the newest d and up to `max_order − 1` earlier ones (warm-up at lower
order); a step down to σ = 0 returns D."""

from __future__ import annotations

import math

import numpy as np
import torch

from comfy_core.sampling.noise import NoiseSampler
from comfy_core.sampling.sampler_base import Denoiser, StepCallback, ones_like_batch, report, to_d

# Classical Adams–Bashforth weights for equal steps, newest derivative first.
ADAMS_BASHFORTH = {
    1: (1.0,),
    2: (3 / 2, -1 / 2),
    3: (23 / 12, -16 / 12, 5 / 12),
    4: (55 / 24, -59 / 24, 37 / 24, -9 / 24),
}
# DEIS maps σ to the VP time t with EDM's VP parameters (Karras et al. 2022, Table 1).
DEIS_EPS_S, DEIS_SIGMA_MIN, DEIS_SIGMA_MAX = 1e-3, 0.002, 80.0
DEIS_POINTS = 10000  # samples of the coefficient integrals (a left Riemann sum, as ComfyUI)


def _check_order(max_order: int) -> None:
    if not 1 <= int(max_order) <= 4:
        raise ValueError(f"max_order must be 1 to 4, got {max_order}")


def ipndm_v_weights(h: list[float]) -> tuple[float, ...]:
    """Variable-step iPNDM weights for the step h[0] given the previous steps h[1:] (σ
    differences, newest first). Up to third order, equal steps give the classical
    Adams–Bashforth weights; the published fourth-order weights do not (57/24, −65/24,
    43/24, −11/24 on equal steps), and are kept as published for the same numbers."""
    if len(h) == 1:
        return (1.0,)
    a1 = h[0] / h[1]
    if len(h) == 2:
        return (1 + a1 / 2, -a1 / 2)
    s01, s12 = h[0] + h[1], h[1] + h[2]
    k1 = (1 - h[0] * h[0] / (3 * h[1] * s12)) / 2  # the third-order correction
    r12 = h[1] / h[2]
    if len(h) == 3:
        return (1 + a1 / 2 + k1, -a1 / 2 - (1 + r12) * k1, k1 * r12)
    s012, s123 = s01 + h[2], s12 + h[3]
    q = h[1] * s12 / (h[2] * (h[2] + h[3]))
    k2 = ((1 - h[0] / (3 * s01)) / 2 + (1 - h[0] / (2 * s01)) * h[0] / (6 * s012)) * (
        h[0] * s01 * s012 / (h[1] * s12 * s123))  # the fourth-order correction
    return (
        1 + a1 / 2 + k1 + k2,
        -a1 / 2 - (1 + r12) * k1 - (1 + r12 + q) * k2,
        k1 * r12 + (r12 + q * (1 + h[2] / h[3])) * k2,
        -k2 * q * r12,
    )


def _adams(denoise, x, sigmas, callback, max_order, step_weights):  # type: ignore[no-untyped-def]
    """The shared loop: x += Σ_k w_k·d_k with weights from `step_weights(i, order)`."""
    _check_order(max_order)
    s_in = ones_like_batch(x)
    ds: list[torch.Tensor] = []  # newest first
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        ds = ([to_d(x, sigmas[i], denoised)] + ds)[: int(max_order)]
        if sigmas[i + 1] <= 0:
            x = denoised
            continue
        x = x + sum(w * d for w, d in zip(step_weights(i, len(ds)), ds))
    return x


def sample_ipndm(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    max_order: int = 4,
) -> torch.Tensor:
    """iPNDM: Adams–Bashforth in σ with the equal-step weights whatever the spacing."""
    s = [float(v) for v in sigmas]

    def weights(i: int, order: int) -> list[float]:
        return [(s[i + 1] - s[i]) * w for w in ADAMS_BASHFORTH[order]]

    return _adams(denoise, x, sigmas, callback, max_order, weights)


def sample_ipndm_v(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    max_order: int = 4,
) -> torch.Tensor:
    """iPNDM with variable-step weights."""
    s = [float(v) for v in sigmas]

    def weights(i: int, order: int) -> list[float]:
        h = [s[i + 1 - k] - s[i - k] for k in range(order)]
        return [h[0] * w for w in ipndm_v_weights(h)]

    return _adams(denoise, x, sigmas, callback, max_order, weights)


def deis_vp_time(sigmas: np.ndarray) -> tuple[np.ndarray, float, float]:
    """σ -> VP time t for the linear-β VP SDE through (ε_s, σ_min) and (1, σ_max):
    σ(t)² = exp(β_d t²/2 + β_min t) − 1. Returns (t, β_0 = β_min, β_1 = β_min + β_d)."""
    lo, hi = math.log(DEIS_SIGMA_MIN**2 + 1), math.log(DEIS_SIGMA_MAX**2 + 1)
    beta_d = 2 * (lo / DEIS_EPS_S - hi) / (DEIS_EPS_S - 1)
    beta_min = hi - beta_d / 2
    t = (np.sqrt(beta_min**2 + 2 * beta_d * np.log(sigmas**2 + 1)) - beta_min) / beta_d
    return t, beta_min, beta_min + beta_d


def _dsigma_dt(tau: np.ndarray, beta_0: float, beta_1: float) -> np.ndarray:
    """dσ/dt of the VP SDE, with ᾱ(t) = exp(−(β_1 − β_0)t²/2 − β_0 t) and σ² = 1/ᾱ − 1."""
    alpha = np.exp(-0.5 * tau**2 * (beta_1 - beta_0) - tau * beta_0)
    dlog_alpha = -tau * (beta_1 - beta_0) - beta_0
    return -0.5 * dlog_alpha / np.sqrt(alpha * (1 - alpha))


def _lagrange(nodes: np.ndarray, j: int, tau: np.ndarray) -> np.ndarray:
    out = np.ones_like(tau)
    for k, node in enumerate(nodes):
        if k != j:
            out = out * (tau - node) / (nodes[j] - node)
    return out


def deis_weights(sigmas: np.ndarray, i: int, order: int, mode: str = "tab") -> list[float]:
    """Weights of d_i, d_{i−1}, ... for the step σ_i -> σ_{i+1}: ∫ L_j(τ) dσ over the step,
    with L_j the Lagrange basis through the last `order` nodes, in VP time ("tab") or in σ
    itself ("rhoab")."""
    if mode == "rhoab":
        from comfy_core.sampling.samplers_euler import lms_coefficient

        return [lms_coefficient(order, sigmas, i, j) for j in range(order)]
    t, beta_0, beta_1 = deis_vp_time(sigmas)
    tau = np.linspace(t[i], t[i + 1], DEIS_POINTS)
    dtau = (t[i + 1] - t[i]) / DEIS_POINTS
    integrand = _dsigma_dt(tau, beta_0, beta_1)
    nodes = t[[i - k for k in range(order)]]
    return [float(np.sum(integrand * _lagrange(nodes, j, tau)) * dtau) for j in range(order)]


def sample_deis(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    max_order: int = 3,
    deis_mode: str = "tab",
) -> torch.Tensor:
    """DEIS (tAB by default): exponential-integrator multistep with weights from the VP SDE;
    the first step and the step to σ = 0 are Euler steps."""
    if deis_mode not in ("tab", "rhoab"):
        raise ValueError(f"deis_mode must be 'tab' or 'rhoab', got {deis_mode!r}")
    s = sigmas.detach().cpu().double().numpy()

    def weights(i: int, order: int) -> list[float]:
        if order == 1:
            return [s[i + 1] - s[i]]
        return deis_weights(s, i, order, deis_mode)

    _check_order(max_order)
    s_in = ones_like_batch(x)
    ds: list[torch.Tensor] = []
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i] * s_in)
        report(callback, i, x, denoised)
        ds = ([to_d(x, sigmas[i], denoised)] + ds)[: int(max_order)]
        order = 1 if s[i + 1] <= 0 else len(ds)
        x = x + sum(w * d for w, d in zip(weights(i, order), ds))
    return x
