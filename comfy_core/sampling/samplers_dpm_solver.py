"""DPM-Solver (Lu et al. 2022, "DPM-Solver: A Fast ODE Solver for Diffusion Probabilistic
Model Sampling") in noise prediction and t = λ = −log σ: DPM-Solver-fast (fixed steps of
orders 3, ..., 3, then 2/1, Alg. 1 with the paper's step split) and the adaptive
DPM-Solver-12/23 with a PID step-size controller (sec. 3.3 and Appendix C).

Both integrate from σ_max = σ_0 down to the smallest positive σ of the schedule (they never
step to σ = 0), so a schedule ending in 0 ends its result at its last positive σ."""

from __future__ import annotations

import math

import torch

from comfy_core.sampling.noise import GaussianNoise, NoiseSampler
from comfy_core.sampling.sampler_base import Denoiser, StepCallback, ancestral_step, report


def _sigma(t: torch.Tensor) -> torch.Tensor:
    return t.neg().exp()


class _DPMSolver:
    """Noise-prediction steps from t to t_next (h = t_next − t > 0)."""

    def __init__(self, denoise: Denoiser, x: torch.Tensor) -> None:
        self.denoise, self.s_in = denoise, x.new_ones([x.shape[0]])

    def eps(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ε̂, D) at (x, σ(t)), ε̂ = (x − D)/σ."""
        denoised = self.denoise(x, _sigma(t) * self.s_in)
        return (x - denoised) / _sigma(t), denoised

    def stage(self, x: torch.Tensor, eps: torch.Tensor, sigma_s: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The first-order step of length h in t, ending at σ_s (DPM-Solver-1, eq. 3.7)."""
        return x - sigma_s * h.expm1() * eps

    def step(self, x, eps, t, t_next, order, r1=None, r2=2 / 3):  # type: ignore[no-untyped-def]
        """One DPM-Solver-`order` step (intermediate points at t + r1·h and t + r2·h); also
        the next lower order's result from the same evaluations, the adaptive method's
        error estimate. Returns (x_next, x_lower or None)."""
        h = t_next - t
        first = self.stage(x, eps, _sigma(t_next), h)
        if order == 1:
            return first, None
        r1 = r1 if r1 is not None else (0.5 if order == 2 else 1 / 3)
        s1 = t + r1 * h
        eps_1, _ = self.eps(self.stage(x, eps, _sigma(s1), r1 * h), s1)
        second = first - _sigma(t_next) / (2 * r1) * h.expm1() * (eps_1 - eps)
        if order == 2:
            return second, first
        s2 = t + r2 * h
        u2 = self.stage(x, eps, _sigma(s2), r2 * h) - _sigma(s2) * (r2 / r1) * (
            (r2 * h).expm1() / (r2 * h) - 1) * (eps_1 - eps)
        eps_2, _ = self.eps(u2, s2)
        third = first - _sigma(t_next) / r2 * (h.expm1() / h - 1) * (eps_2 - eps)
        return third, second


def _sigma_range(sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(t_start, t_end) for σ_0 down to the last positive σ."""
    sigma_min = sigmas[-1] if sigmas[-1] > 0 else sigmas[-2]
    return sigmas[0].log().neg(), sigma_min.log().neg()


def _ancestral_target(t, t_next, t_end, eta):  # type: ignore[no-untyped-def]
    """With η > 0: the deterministic target t' (≤ t_end) and the noise std to add at t_next."""
    if not eta:
        return t_next, 0.0
    sd, _ = ancestral_step(_sigma(t), _sigma(t_next), eta)
    target = torch.minimum(t_end, sd.log().neg())
    return target, (_sigma(t_next) ** 2 - _sigma(target) ** 2) ** 0.5


def sample_dpm_fast(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    eta: float = 0.0,
    s_noise: float = 1.0,
) -> torch.Tensor:
    """DPM-Solver-fast with as many model evaluations as the schedule has steps, on steps
    uniform in t between σ_0 and the last positive σ."""
    if len(sigmas) <= 1:
        return x
    noise = noise or GaussianNoise(x, seed)
    nfe = len(sigmas) - 1
    t_start, t_end = _sigma_range(sigmas)
    m = nfe // 3 + 1
    ts = torch.linspace(float(t_start), float(t_end), m + 1, dtype=sigmas.dtype)
    orders = [3] * (m - 2) + [2, 1] if nfe % 3 == 0 else [3] * (m - 1) + [nfe % 3]
    solver = _DPMSolver(denoise, x)
    for i, order in enumerate(orders):
        t, t_next = ts[i], ts[i + 1]
        target, sigma_up = _ancestral_target(t, t_next, t_end, eta)
        eps, denoised = solver.eps(x, t)
        report(callback, i, x, denoised)
        x, _ = solver.step(x, eps, t, target, order)
        if eta:
            x = x + sigma_up * s_noise * noise(_sigma(t), _sigma(t_next))
    return x


class PIDController:
    """Step-size control from the scaled error (Söderlind 2003): h ← h·limiter(Π ε_k^{b_k}),
    accepting the step when the factor is at least `accept_safety`."""

    def __init__(self, h: float, pcoeff: float, icoeff: float, dcoeff: float, order: float,
                 accept_safety: float, eps: float = 1e-8) -> None:
        self.h, self.accept_safety, self.eps = h, accept_safety, eps
        self.b = ((pcoeff + icoeff + dcoeff) / order, -(pcoeff + 2 * dcoeff) / order, dcoeff / order)
        self.errs: list[float] = []

    def propose(self, error: float) -> bool:
        inv = 1 / (error + self.eps)
        if not self.errs:
            self.errs = [inv, inv, inv]
        self.errs[0] = inv
        factor = self.errs[0] ** self.b[0] * self.errs[1] ** self.b[1] * self.errs[2] ** self.b[2]
        factor = 1 + math.atan(factor - 1)
        accept = factor >= self.accept_safety
        if accept:
            self.errs[2], self.errs[1] = self.errs[1], self.errs[0]
        self.h *= factor
        return accept


def sample_dpm_adaptive(
    denoise: Denoiser,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    callback: StepCallback | None = None,
    noise: NoiseSampler | None = None,
    seed: int | None = None,
    order: int = 3,
    rtol: float = 0.05,
    atol: float = 0.0078,
    h_init: float = 0.05,
    pcoeff: float = 0.0,
    icoeff: float = 1.0,
    dcoeff: float = 0.0,
    accept_safety: float = 0.81,
    eta: float = 0.0,
    s_noise: float = 1.0,
) -> torch.Tensor:
    """Adaptive DPM-Solver-12 (order 2) or -23 (order 3): each step compares the order and
    the order−1 result and the controller picks the next step length. The step count
    depends on the model, so it reads the error on the host every step."""
    if order not in (2, 3):
        raise ValueError(f"order must be 2 or 3, got {order}")
    if len(sigmas) <= 1:
        return x
    noise = noise or GaussianNoise(x, seed)
    t_start, t_end = _sigma_range(sigmas)
    solver = _DPMSolver(denoise, x)
    pid = PIDController(abs(h_init), pcoeff, icoeff, dcoeff, 1.5 if eta else order, accept_safety)
    s, x_prev, steps = t_start, x, 0
    while s < t_end - 1e-5:
        t = torch.minimum(t_end, s + pid.h)
        target, sigma_up = _ancestral_target(s, t, t_end, eta)
        eps, denoised = solver.eps(x, s)
        x_high, x_low = solver.step(x, eps, s, target, order)
        delta = torch.clamp(rtol * torch.maximum(x_low.abs(), x_prev.abs()), min=atol)
        error = float(torch.linalg.norm((x_low - x_high) / delta) / x.numel() ** 0.5)
        if pid.propose(error):
            x_prev = x_low
            x = x_high + sigma_up * s_noise * noise(_sigma(s), _sigma(t)) if eta else x_high
            s = t
        report(callback, steps, x, denoised)
        steps += 1
    return x
