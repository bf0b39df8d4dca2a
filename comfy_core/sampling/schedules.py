"""Noise schedules: pure functions `sigmas_<name>(model_sampling, steps) -> σ [steps+1]`.

Each returns a float32 CPU tensor, descending, ending with 0 (COMPAT 9.5 gives the exact
formulas and SD1 reference tables).
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from comfy_core.sampling.model_sampling import ModelSampling

Schedule = Callable[[ModelSampling, int], torch.Tensor]


def _append_zero(sigmas: torch.Tensor) -> torch.Tensor:
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def sigmas_normal(ms: ModelSampling, steps: int, sgm: bool = False) -> torch.Tensor:
    """Timesteps evenly spaced from t(σ_max) to t(σ_min), mapped through the σ table."""
    start, end = float(ms.timestep(ms.sigma_max)), float(ms.timestep(ms.sigma_min))
    append_zero = True
    if sgm:
        timesteps = torch.linspace(start, end, steps + 1)[:-1]
    else:
        if math.isclose(float(ms.sigma(torch.tensor(end))), 0, abs_tol=1e-5):
            steps += 1
            append_zero = False
        timesteps = torch.linspace(start, end, steps)
    sigmas = torch.stack([ms.sigma(t) for t in timesteps]).float()
    return _append_zero(sigmas) if append_zero else sigmas


def sigmas_sgm_uniform(ms: ModelSampling, steps: int) -> torch.Tensor:
    """As in SGM (Stability's generative-models): N+1 uniform timesteps, last one dropped."""
    return sigmas_normal(ms, steps, sgm=True)


def karras(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. (2022), eq. 5: uniform in σ^(1/ρ) from σ_max to σ_min, then 0."""
    ramp = torch.linspace(0, 1, steps)
    min_inv_rho, max_inv_rho = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return _append_zero((max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho)


def exponential(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Uniform in log σ from σ_max to σ_min, then 0."""
    _positive(sigma_min=sigma_min, sigma_max=sigma_max)
    return _append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), steps).exp())


def polyexponential(steps: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> torch.Tensor:
    """log σ a polynomial of degree ρ in the step ramp (ρ = 1 is `exponential`), then 0."""
    _positive(sigma_min=sigma_min, sigma_max=sigma_max)
    ramp = torch.linspace(1, 0, steps) ** rho
    lo, hi = math.log(sigma_min), math.log(sigma_max)
    return _append_zero(torch.exp(ramp * (hi - lo) + lo))


def vp(steps: int, beta_d: float = 19.9, beta_min: float = 0.1, eps_s: float = 1e-3) -> torch.Tensor:
    """The continuous VP SDE's σ(t) = √(exp(β_d t²/2 + β_min t) − 1) for t from 1 to ε_s
    (Song et al. 2021), then 0."""
    t = torch.linspace(1, eps_s, steps)
    return _append_zero(torch.sqrt(torch.special.expm1(beta_d * t**2 / 2 + beta_min * t)))


def laplace(steps: int, sigma_min: float, sigma_max: float, mu: float = 0.0, beta: float = 0.5) -> torch.Tensor:
    """log σ at the quantiles of a Laplace(μ, β) distribution, clipped to [σ_min, σ_max]
    (Hang et al. 2024, "Improved Noise Schedule for Diffusion Training"); no final 0."""
    x = torch.linspace(0, 1, steps)
    lam = mu - beta * torch.sign(0.5 - x) * torch.log(1 - 2 * torch.abs(0.5 - x) + 1e-5)
    return torch.clamp(torch.exp(lam), min=sigma_min, max=sigma_max)


def _positive(**values: float) -> None:
    bad = [f"{name}={value}" for name, value in values.items() if not value > 0]
    if bad:
        raise ValueError(f"a log-spaced schedule needs positive sigmas, got {', '.join(bad)}")


def sigmas_karras(ms: ModelSampling, steps: int, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. (2022) between the model's σ_min and σ_max."""
    return karras(steps, float(ms.sigma_min), float(ms.sigma_max), rho)


def sigmas_exponential(ms: ModelSampling, steps: int) -> torch.Tensor:
    """Uniform in log σ between the model's σ_max and σ_min."""
    return exponential(steps, float(ms.sigma_min), float(ms.sigma_max))


def sigmas_simple(ms: ModelSampling, steps: int) -> torch.Tensor:
    """Every (T/N)-th entry of the σ table, from the top."""
    stride = len(ms.sigmas) / steps
    picked = [float(ms.sigmas[-(1 + int(i * stride))]) for i in range(steps)]
    return torch.tensor(picked + [0.0], dtype=torch.float32)


def sigmas_ddim_uniform(ms: ModelSampling, steps: int) -> torch.Tensor:
    """DDIM's "uniform" timestep skipping (Song et al. 2021): t = 1, 1+s, 1+2s, ..."""
    stride = max(len(ms.sigmas) // steps, 1)
    picked = [float(ms.sigmas[t]) for t in range(1, len(ms.sigmas), stride)]
    return torch.tensor(picked[::-1] + [0.0], dtype=torch.float32)


def sigmas_beta(ms: ModelSampling, steps: int, alpha: float = 0.6, beta: float = 0.6) -> torch.Tensor:
    """Timesteps at Beta(α, β) quantiles (Lee et al. 2024, "Beta Sampling is All You Need")."""
    from scipy import stats  # heavy import, only for this schedule

    total = len(ms.sigmas) - 1
    quantiles = [1.0 - i / steps for i in range(steps)]
    timesteps = [int(round(float(v) * total)) for v in stats.beta.ppf(quantiles, alpha, beta)]
    picked: list[float] = []
    last = -1
    for t in timesteps:
        if t != last:
            picked.append(float(ms.sigmas[t]))
        last = t
    return torch.tensor(picked + [0.0], dtype=torch.float32)


def sigmas_linear_quadratic(
    ms: ModelSampling, steps: int, threshold_noise: float = 0.025, linear_steps: int | None = None
) -> torch.Tensor:
    """Linear then quadratic in 1−σ/σ_max (from Movie Gen / the Mochi reference sampler)."""
    if steps == 1:
        return torch.tensor([float(ms.sigma_max), 0.0], dtype=torch.float32)
    lin = steps // 2 if linear_steps is None else linear_steps
    quad_steps = steps - lin
    levels = [i * threshold_noise / lin for i in range(lin)]
    delta = lin - threshold_noise * steps
    q = delta / (lin * quad_steps**2)
    l_coef = threshold_noise / lin - 2 * delta / quad_steps**2
    c = q * lin**2
    levels += [q * i**2 + l_coef * i + c for i in range(lin, steps)]
    levels.append(1.0)
    return torch.tensor([1.0 - s for s in levels], dtype=torch.float32) * ms.sigma_max


def sigmas_kl_optimal(ms: ModelSampling, steps: int) -> torch.Tensor:
    """Uniform in arctan σ (Sabour et al. 2024, "Align Your Steps", KL-optimal schedule)."""
    sigma_min, sigma_max = float(ms.sigma_min), float(ms.sigma_max)
    frac = torch.arange(steps, dtype=torch.float32) / max(steps - 1, 1)
    return _append_zero((frac * math.atan(sigma_min) + (1 - frac) * math.atan(sigma_max)).tan())


# ComfyUI's UI order (COMPAT 7.1): the first is the default.
SCHEDULERS: dict[str, Schedule] = {
    "simple": sigmas_simple,
    "sgm_uniform": sigmas_sgm_uniform,
    "karras": sigmas_karras,
    "exponential": sigmas_exponential,
    "ddim_uniform": sigmas_ddim_uniform,
    "beta": sigmas_beta,
    "normal": sigmas_normal,
    "linear_quadratic": sigmas_linear_quadratic,
    "kl_optimal": sigmas_kl_optimal,
}
SCHEDULER_NAMES: tuple[str, ...] = tuple(SCHEDULERS)


def calculate_sigmas(ms: ModelSampling, name: str, steps: int) -> torch.Tensor:
    """The schedule called `name` for `steps` steps (σ [steps+1], float32, CPU)."""
    try:
        schedule = SCHEDULERS[name]
    except KeyError:
        raise ValueError(f"unknown scheduler {name!r}; expected one of {list(SCHEDULERS)}") from None
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return schedule(ms, steps).float()
