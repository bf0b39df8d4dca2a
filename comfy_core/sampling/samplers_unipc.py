"""UniPC (Zhao et al. 2023, "UniPC: A Unified Predictor-Corrector Framework for Fast
Sampling of Diffusion Models"), multistep, data-prediction mode, B(h) = h (bh1) or e^h − 1
(bh2), run on the VP view of the VE σ schedule (COMPAT 9.6).

VP view of σ: α = 1/√(1+σ²), σ_vp = σ·α, λ = log(α/σ_vp) = −log σ.
"""

from __future__ import annotations

import torch

from comfy_core.sampling.noise import NoiseSampler
from comfy_core.sampling.sampler_base import Denoiser, StepCallback, report

# The final σ = 0 is replaced by this (UniPC needs a finite λ at the end).
FINAL_SIGMA = 0.001


def _log_alpha(sigma: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.log(1 / (sigma * sigma + 1))


def _sigma_vp(sigma: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(1.0 - torch.exp(2.0 * _log_alpha(sigma)))


def _lambda(sigma: torch.Tensor) -> torch.Tensor:
    log_alpha = _log_alpha(sigma)
    return log_alpha - 0.5 * torch.log(1.0 - torch.exp(2.0 * log_alpha))


class _UniPC:
    """The solver state: the model at VP inputs, and the history of (σ, x0) pairs."""

    def __init__(self, denoise: Denoiser, bh2: bool, batch: int) -> None:
        self.denoise, self.bh2, self.batch = denoise, bh2, batch

    def data(self, x_vp: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """x0 at a VP state, via ε = (x·√(1+σ²) − D)/σ then x0 = (x − σ_vp ε)/α."""
        s = x_vp.new_ones(self.batch) * sigma  # [B] on x's device; σ itself stays on the host
        x_ve = x_vp * ((sigma**2 + 1.0) ** 0.5)
        eps = (x_ve - self.denoise(x_ve, s)) / sigma
        return (x_vp - _sigma_vp(sigma) * eps) / torch.exp(_log_alpha(sigma))

    def coefficients(self, rks: list[torch.Tensor], hh: torch.Tensor, order: int):  # type: ignore[no-untyped-def]
        """R (order×order Vandermonde of r_k) and b (φ-function moments / B(h))."""
        r = torch.tensor([float(v) for v in rks] + [1.0])
        h_phi_1 = torch.expm1(hh)  # e^{hh} − 1
        h_phi_k = h_phi_1 / hh - 1
        b_h = torch.expm1(hh) if self.bh2 else hh
        rows, b, factorial = [], [], 1
        for k in range(1, order + 1):
            rows.append(torch.pow(r, k - 1))
            b.append(h_phi_k * factorial / b_h)
            factorial *= k + 1
            h_phi_k = h_phi_k / hh - 1 / factorial
        return torch.stack(rows), torch.tensor([float(v) for v in b]), h_phi_1, b_h

    def step(self, x, history, sigma_t, order, use_corrector):  # type: ignore[no-untyped-def]
        """One predictor step to σ_t (+ corrector); returns (x_t, x0 at x_t or None)."""
        (sigma_0, m0) = history[-1]
        lam_0, lam_t = _lambda(sigma_0), _lambda(sigma_t)
        h = lam_t - lam_0
        rks, d1s = [], []
        for k in range(1, order):
            sigma_k, m_k = history[-(k + 1)]
            rk = (_lambda(sigma_k) - lam_0) / h
            rks.append(rk)
            d1s.append((m_k - m0) / rk)
        hh = -h
        R, b, h_phi_1, b_h = self.coefficients(rks, hh, order)
        alpha_t = torch.exp(_log_alpha(sigma_t))
        x_lin = _sigma_vp(sigma_t) / _sigma_vp(sigma_0) * x - alpha_t * h_phi_1 * m0
        x_t = x_lin
        if d1s:
            rhos_p = torch.tensor([0.5]) if order == 2 else torch.linalg.solve(R[:-1, :-1], b[:-1])
            x_t = x_lin - alpha_t * b_h * sum(float(p) * d for p, d in zip(rhos_p, d1s))
        if not use_corrector:
            return x_t, None
        rhos_c = torch.tensor([0.5]) if order == 1 else torch.linalg.solve(R, b)
        model_t = self.data(x_t, sigma_t)
        corr = sum(float(p) * d for p, d in zip(rhos_c[:-1], d1s)) if d1s else 0
        x_t = x_lin - alpha_t * b_h * (corr + float(rhos_c[-1]) * (model_t - m0))
        return x_t, model_t


def _sample_unipc(denoise, x, sigmas, callback, bh2: bool) -> torch.Tensor:  # type: ignore[no-untyped-def]
    if len(sigmas) <= 1:
        return x
    ts = sigmas.clone().float()
    if ts[-1] == 0:
        ts[-1] = FINAL_SIGMA
    steps = len(ts) - 1
    order = max(1, min(3, len(ts) - 2))
    solver = _UniPC(denoise, bh2, x.shape[0])
    x = x / torch.sqrt(1.0 + ts[0] ** 2.0)  # VE -> VP
    history = [(ts[0], solver.data(x, ts[0]))]
    for step in range(1, steps + 1):
        warmup = step < order
        step_order = step if warmup else min(order, steps + 1 - step)
        use_corrector = warmup or step < steps
        x, model_x = solver.step(x, history, ts[step], step_order, use_corrector)
        report(callback, step - 1, x, model_x if model_x is not None else history[-1][1])
        if step < steps:
            history = (history + [(ts[step], model_x)])[-order:]
    return x / torch.exp(_log_alpha(ts[-1]))


def sample_uni_pc(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """UniPC with B(h) = h (bh1), order min(3, N−1), lower order at the ends."""
    return _sample_unipc(denoise, x, sigmas, callback, bh2=False)


def sample_uni_pc_bh2(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
) -> torch.Tensor:
    """UniPC with B(h) = e^h − 1 (bh2)."""
    return _sample_unipc(denoise, x, sigmas, callback, bh2=True)

