"""Types and small helpers shared by the sampler functions.

A denoiser is `D(x [B,C,H,W], σ [B]) -> denoised [B,C,H,W]` (Karras et al. 2022 notation).
CFG++ samplers also need the unconditional prediction; a denoiser that can give it
implements `GuidedDenoiser.guided`, which always evaluates the unconditional side (even at
cfg 1, where a plain call skips it).

Every sampler is `sample_<name>(denoise, x, sigmas, *, callback=None, noise=None,
seed=None, **options) -> x`: `noise` is a NoiseSampler (built from `seed` when None) and
the options are k-diffusion's keyword names with their published defaults (eta, s_noise,
r, solver_type, order, ...), so a SAMPLER value's options pass straight through.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Protocol, runtime_checkable

import torch

from comfy_core.sampling.noise import NoiseSampler

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# callback(i, x, denoised): i is the 0-based step just evaluated, denoised is D at σ_i.
StepCallback = Callable[[int, torch.Tensor, torch.Tensor], None]


class Guided(NamedTuple):
    denoised: torch.Tensor  # the CFG result
    uncond: torch.Tensor  # the unconditional prediction


@runtime_checkable
class GuidedDenoiser(Protocol):
    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor: ...

    def guided(self, x: torch.Tensor, sigma: torch.Tensor) -> Guided: ...


def ones_like_batch(x: torch.Tensor) -> torch.Tensor:
    """[B] ones, to turn a scalar σ into a per-sample σ."""
    return x.new_ones([x.shape[0]])


def to_d(x: torch.Tensor, sigma: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """The probability-flow ODE derivative dx/dσ = (x − D)/σ (Karras et al. 2022, eq. 4)."""
    if sigma.ndim == 0:  # a host σ: a plain scalar to the device's kernel
        return (x - denoised) / sigma
    return (x - denoised) / sigma.reshape(sigma.shape + (1,) * (x.ndim - sigma.ndim))


def ancestral_step(
    sigma_from: torch.Tensor, sigma_to: torch.Tensor, eta: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a step σ_from -> σ_to into a deterministic step to σ_down plus fresh noise of
    std σ_up, with σ_down² + σ_up² = σ_to² (ancestral sampling, Ho et al. 2020)."""
    if not eta:
        return sigma_to, torch.zeros_like(sigma_to)
    sigma_up = torch.minimum(
        sigma_to, eta * (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5
    )
    sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5
    return sigma_down, sigma_up


def guided(denoise: Denoiser, x: torch.Tensor, sigma: torch.Tensor) -> Guided:
    """(denoised, uncond) from a guided denoiser; a plain denoiser has no separate
    unconditional prediction, so its output serves as both."""
    if isinstance(denoise, GuidedDenoiser):
        return denoise.guided(x, sigma)
    out = denoise(x, sigma)
    return Guided(out, out)


def report(callback: StepCallback | None, i: int, x: torch.Tensor, denoised: torch.Tensor) -> None:
    if callback is not None:
        callback(i, x, denoised)
