"""Seeded noise: the initial latent noise (COMPAT 9.2) and per-step noise samplers.

A NoiseSampler is `(σ, σ_next) -> z` with z ~ N(0, I) shaped like x. Samplers take one as
an argument so stochastic runs repeat exactly; when none is given they build the default
from the seed (never torch's global RNG).

SDE samplers use a Brownian tree (Li et al. 2020, "Scalable Gradients for SDEs") through
`torchsde.BrownianTree`, as k-diffusion does: the same seed gives the same increments
whatever the step sizes, and the numbers match ComfyUI's exactly. torchsde is a small
pure-Python runtime dependency (requirements.txt).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

NoiseSampler = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def prepare_noise(
    latent: torch.Tensor, seed: int, batch_index: Sequence[int] | None = None
) -> torch.Tensor:
    """Initial noise for `latent` [B,C,H,W], drawn on the CPU from a generator seeded like
    `torch.manual_seed(seed)`. With `batch_index`, one [1,C,H,W] draw per index
    0..max(index) in order, kept for the indices present, returned in `batch_index` order."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(seed))
    if batch_index is None:
        return torch.randn(latent.shape, dtype=latent.dtype, generator=generator, device="cpu")
    wanted = {int(i) for i in batch_index}
    drawn: dict[int, torch.Tensor] = {}
    for i in range(max(wanted) + 1):
        one = torch.randn((1, *latent.shape[1:]), dtype=latent.dtype, generator=generator, device="cpu")
        if i in wanted:
            drawn[i] = one
    return torch.cat([drawn[int(i)] for i in batch_index], dim=0)


def zero_noise(latent: torch.Tensor) -> torch.Tensor:
    """Noise for `add_noise = disable`."""
    return torch.zeros(latent.shape, dtype=latent.dtype, device="cpu")


class GaussianNoise:
    """Fresh N(0, I) per call from a private generator on x's device. The seed is bumped
    by one on the CPU so step noise differs from the initial noise (ComfyUI's rule)."""

    def __init__(self, x: torch.Tensor, seed: int | None) -> None:
        self._shape, self._dtype, self._device = x.shape, x.dtype, x.device
        self._generator = torch.Generator(device=x.device)
        seed = 0 if seed is None else int(seed)
        self._generator.manual_seed(seed + 1 if x.device.type == "cpu" else seed)

    def __call__(self, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
        return torch.randn(
            self._shape, dtype=self._dtype, device=self._device, generator=self._generator
        )


class BrownianNoise:
    """Brownian-tree noise on [σ_min, σ_max]: W(σ, σ_next)/√|σ_next − σ|."""

    def __init__(
        self,
        x: torch.Tensor,
        sigma_min: torch.Tensor,
        sigma_max: torch.Tensor,
        seed: int | None,
        cpu: bool = True,
    ) -> None:
        import torchsde  # imported lazily: only SDE samplers need it

        t0, t1 = torch.as_tensor(sigma_min), torch.as_tensor(sigma_max)
        w0 = torch.zeros_like(x)
        self._cpu = cpu
        if cpu:
            t0, t1, w0 = t0.detach().cpu(), t1.detach().cpu(), w0.detach().cpu()
        self._tree = torchsde.BrownianTree(t0, w0, t1, entropy=0 if seed is None else int(seed))

    def __call__(self, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
        sigma, sigma_next = torch.as_tensor(sigma), torch.as_tensor(sigma_next)
        lo, hi = (sigma, sigma_next) if sigma < sigma_next else (sigma_next, sigma)
        sign = 1.0 if sigma < sigma_next else -1.0
        device, dtype = lo.device, lo.dtype
        if self._cpu:
            lo, hi = lo.detach().cpu().float(), hi.detach().cpu().float()
        w = self._tree(lo, hi).to(device=device, dtype=dtype) * sign
        return w / (sigma_next - sigma).abs().sqrt()


def brownian_noise(
    x: torch.Tensor, sigmas: torch.Tensor, seed: int | None, cpu: bool = True
) -> BrownianNoise:
    """The SDE samplers' default: a tree over the schedule's positive σ range."""
    positive = sigmas[sigmas > 0]
    return BrownianNoise(x, positive.min(), sigmas.max(), seed, cpu=cpu)


class RandomNoise:
    """The NOISE value of the custom-sampling nodes: `seed` and `generate_noise(latent)`,
    the initial noise of a LATENT dict (its `batch_index` respected, COMPAT 9.2)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def generate_noise(self, latent: dict) -> torch.Tensor:
        return prepare_noise(latent["samples"], self.seed, latent.get("batch_index"))


class ZeroNoise:
    """The NOISE value that adds nothing (continue from an already noisy latent)."""

    seed = 0

    def generate_noise(self, latent: dict) -> torch.Tensor:
        return zero_noise(latent["samples"])
