"""`comfy.k_diffusion.sampling`: the samplers in k-diffusion's protocol and its helpers
(COMPAT-PLUGINS 3.15), over comfy_core.sampling.

`sample_<name>(model, x, sigmas, extra_args=None, callback=None, disable=None, **options)`
exists for every built-in sampler name except `dpm_fast`/`dpm_adaptive` (whose k-diffusion
signature takes σ_min/σ_max and a step count instead of σ), `ddim` and the UniPC ones
(ComfyUI keeps those elsewhere). They are module attributes, so a pack may replace one;
`comfy.samplers.ksampler(name)` looks the function up here when called. `torch` is here
because packs read it, but our samplers draw their noise through their noise samplers.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from comfy_core.sampling import schedules
from comfy_core.sampling.noise import BrownianNoise, GaussianNoise
from comfy_core.sampling.sampler_base import ancestral_step
from comfy_core.sampling.sampler_base import to_d as _to_d
from comfy_core.sampling.sampler_value import kdiffusion_function
from comfy_core.sampling.samplers import SAMPLER_NAMES

_ELSEWHERE = ("dpm_fast", "dpm_adaptive", "ddim", "uni_pc", "uni_pc_bh2")
globals().update({f"sample_{name}": kdiffusion_function(name) for name in SAMPLER_NAMES
                  if name not in _ELSEWHERE})


def get_sigmas_karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0,
                      device: Any = "cpu") -> torch.Tensor:
    """Karras et al. (2022) noise levels: n values then 0."""
    return schedules.karras(n, sigma_min, sigma_max, rho).to(device)


def get_sigmas_exponential(n: int, sigma_min: float, sigma_max: float,
                           device: Any = "cpu") -> torch.Tensor:
    return schedules.exponential(n, sigma_min, sigma_max).to(device)


def get_sigmas_polyexponential(n: int, sigma_min: float, sigma_max: float, rho: float = 1.0,
                               device: Any = "cpu") -> torch.Tensor:
    return schedules.polyexponential(n, sigma_min, sigma_max, rho).to(device)


def get_sigmas_vp(n: int, beta_d: float = 19.9, beta_min: float = 0.1, eps_s: float = 1e-3,
                  device: Any = "cpu") -> torch.Tensor:
    return schedules.vp(n, beta_d, beta_min, eps_s).to(device)


def get_sigmas_laplace(n: int, sigma_min: float, sigma_max: float, mu: float = 0.0,
                       beta: float = 0.5, device: Any = "cpu") -> torch.Tensor:
    return schedules.laplace(n, sigma_min, sigma_max, mu, beta).to(device)


def append_dims(x: torch.Tensor, target_dims: int) -> torch.Tensor:
    """`x` with trailing singleton dimensions up to `target_dims`."""
    missing = target_dims - x.ndim
    if missing < 0:
        raise ValueError(f"input has {x.ndim} dims but target_dims is {target_dims}")
    return x[(...,) + (None,) * missing]


def to_d(x: torch.Tensor, sigma: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """(x − denoised) / σ: the Karras ODE derivative."""
    return _to_d(x, sigma, denoised)


def get_ancestral_step(sigma_from: Any, sigma_to: Any, eta: float = 1.0) -> tuple:
    """(σ_down, σ_up) of an ancestral step."""
    return ancestral_step(torch.as_tensor(sigma_from), torch.as_tensor(sigma_to), eta)


def default_noise_sampler(x: torch.Tensor, seed: int | None = None) -> Callable:
    """N(0, I) like `x` per call (seeded: a generator on x's device, seed+1 on the CPU)."""
    if seed is None:
        return lambda sigma, sigma_next: torch.randn_like(x)
    return GaussianNoise(x, seed)


class BrownianTreeNoiseSampler:
    """Brownian-tree noise for SDE samplers; `transform` maps σ before the tree (flow
    models pass their σ→t map)."""

    def __init__(self, x: torch.Tensor, sigma_min: Any, sigma_max: Any, seed: int | None = None,
                 transform: Callable = lambda v: v, cpu: bool = False) -> None:
        self.transform = transform
        t0 = transform(torch.as_tensor(sigma_min))
        t1 = transform(torch.as_tensor(sigma_max))
        self._noise = BrownianNoise(x, t0, t1, seed, cpu=cpu)

    def __call__(self, sigma: Any, sigma_next: Any) -> torch.Tensor:
        return self._noise(self.transform(torch.as_tensor(sigma)),
                           self.transform(torch.as_tensor(sigma_next)))
