"""SA-Solver (Xue et al. 2023, "SA-Solver: Stochastic Adams Solver for Fast Sampling of
Diffusion Models"): a stochastic Adams predictor–corrector in data prediction and
λ = −log σ (α = 1 in the VE view). Over the stochastic window τ(σ) > 0 the SDE with noise
scale τ is solved; elsewhere τ = 0 and it is a deterministic multistep ODE solver.

The step weights integrate e^{(1+τ²)(λ−λ_t)} against the Lagrange basis through the last
predictions' λ (eqs. 15 and 18), solved as a Vandermonde system of exponential moments."""

from __future__ import annotations

import math
from typing import Callable

import torch

from comfy_core.sampling.noise import GaussianNoise, NoiseSampler
from comfy_core.sampling.sampler_base import Denoiser, StepCallback, ones_like_batch, report

TauFunction = Callable[[float], float]


def tau_interval(start_sigma: float, end_sigma: float, eta: float = 1.0) -> TauFunction:
    """τ(σ) = η inside [end_sigma, start_sigma] and 0 outside (the SDE window; η ≤ 0 is the
    ODE). The paper bounds the window in time; σ is the equivalent for a fixed model."""

    def tau(sigma: float) -> float:
        return eta if eta > 0 and start_sigma >= float(sigma) >= end_sigma else 0.0

    return tau


def exponential_moments(s: float, t: float, n: int, tau: float) -> list[float]:
    """E_p = a·∫_s^t e^{a(λ−t)} λ^p dλ for p < n, a = 1 + τ², by parts:
    E_0 = 1 − e^{−a(t−s)}, E_p = t^p − s^p·e^{−a(t−s)} − (p/a)·E_{p−1}."""
    a = 1 + tau * tau
    decay = math.exp(-a * (t - s))
    moments = [1 - decay]
    for p in range(1, n):
        moments.append(t**p - s**p * decay - p / a * moments[-1])
    return moments


def adams_weights(nodes: list[float], s: float, t: float, tau: float) -> list[float]:
    """Weights of the predictions at `nodes` (oldest first) for the step from λ = s to t:
    a·∫_s^t e^{a(λ−t)} L_j(λ) dλ, the solution of Σ_j nodes_j^p·w_j = E_p."""
    n = len(nodes)
    vander = torch.tensor([[v**p for v in nodes] for p in range(n)], dtype=torch.float64)
    moments = torch.tensor(exponential_moments(s, t, n, tau), dtype=torch.float64)
    return torch.linalg.solve(vander, moments).tolist()


def simple_order_2_weights(prev: float, s: float, t: float, tau: float, corrector: bool) -> list[float]:
    """The paper's simplified two-point weights (Appendix D), oldest first."""
    a, h = 1 + tau * tau, t - s
    total = -math.expm1(-h * a)
    newest = 0.5 * a * h if corrector else total - 0.5 * a * h * h / (prev - s)
    return [total - newest, newest]


def _weights(nodes, s, t, tau, simple, corrector):  # type: ignore[no-untyped-def]
    if simple and len(nodes) == 2:
        return simple_order_2_weights(nodes[-2], s, t, tau, corrector)
    return adams_weights(nodes, s, t, tau)


def sample_sa_solver(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    tau_func: TauFunction | None = None,
    s_noise: float = 1.0,
    predictor_order: int = 3,
    corrector_order: int = 4,
    use_pece: bool = False,
    simple_order_2: bool = False,
) -> torch.Tensor:
    """SA-Predictor of `predictor_order` then SA-Corrector of `corrector_order` with the
    prediction at the new point (PEC; PECE re-evaluates the corrected state). Orders drop
    near the end when the schedule ends at 0. `tau_func` maps σ to τ (see
    `tau_interval`; the registry derives the default window from the model)."""
    if tau_func is None:
        raise ValueError("sa_solver needs tau_func (the SDE window over σ)")
    if len(sigmas) <= 1:
        return x
    noise = noise or GaussianNoise(x, seed)
    s_in = ones_like_batch(x)
    sig = [float(v) for v in sigmas]
    lams = [-math.log(v) if v > 0 else math.inf for v in sig]
    x_pred, preds = x, []  # x: the corrected state, x_pred: the predicted next state
    h, tau, step_noise = 0.0, 0.0, None
    for i in range(len(sig) - 1):
        denoised = denoise(x_pred, sigmas[i] * s_in)
        report(callback, i, x_pred, denoised)
        preds = (preds + [denoised])[-max(predictor_order, corrector_order):]
        n_pred = min(predictor_order, len(preds))
        n_corr = 0 if i == 0 or (sig[i + 1] == 0 and not use_pece) else min(corrector_order, len(preds))
        if sig[-1] == 0:  # lower orders towards the end
            n_pred, n_corr = min(n_pred, len(sig) - 2 - i), min(n_corr, len(sig) - 1 - i)
        if n_corr == 0:
            x = x_pred
        else:
            w = _weights(lams[i - n_corr + 1 : i + 1], lams[i - 1], lams[i], tau, simple_order_2, True)
            x = sig[i] / sig[i - 1] * math.exp(-tau * tau * h) * x + sum(c * p for c, p in zip(w, preds[-n_corr:]))
            if step_noise is not None:
                x = x + step_noise
            if use_pece:
                preds[-1] = denoised = denoise(x, sigmas[i] * s_in)
        if sig[i + 1] == 0:
            x_pred = denoised
            continue
        tau = float(tau_func(sigmas[i + 1]))
        w = _weights(lams[i - n_pred + 1 : i + 1], lams[i], lams[i + 1], tau, simple_order_2, False)
        h = lams[i + 1] - lams[i]
        x_pred = sig[i + 1] / sig[i] * math.exp(-tau * tau * h) * x + sum(c * p for c, p in zip(w, preds[-n_pred:]))
        step_noise = None
        if tau > 0 and s_noise > 0:
            step_noise = noise(sigmas[i], sigmas[i + 1]) * (sig[i + 1] * math.sqrt(-math.expm1(-2 * tau * tau * h)) * s_noise)
            x_pred = x_pred + step_noise
    return x_pred


def sample_sa_solver_pece(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    tau_func: TauFunction | None = None,
    s_noise: float = 1.0,
    predictor_order: int = 3,
    corrector_order: int = 4,
    simple_order_2: bool = False,
) -> torch.Tensor:
    """SA-Solver in PECE mode (the corrected state is evaluated again)."""
    return sample_sa_solver(denoise, x, sigmas, callback=callback, noise=noise, seed=seed, tau_func=tau_func,
                            s_noise=s_noise, predictor_order=predictor_order, corrector_order=corrector_order,
                            use_pece=True, simple_order_2=simple_order_2)
