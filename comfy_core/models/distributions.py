"""The diagonal Gaussian an LDM autoencoder's encoder predicts: moments (B, 2C, h, w) read
as mean | log-variance. Our VAE only takes the mean; this is the full distribution for
code that samples latents or measures KL (ComfyUI's `DiagonalGaussianDistribution`)."""

from __future__ import annotations

import math
from typing import Sequence

import torch

LOGVAR_RANGE = (-30.0, 20.0)  # clamp on the predicted log-variance, as LDM does


class DiagonalGaussianDistribution:
    """N(mean, exp(logvar)) per latent element; `deterministic` collapses it to the mean."""

    def __init__(self, parameters: torch.Tensor, deterministic: bool = False) -> None:
        self.parameters = parameters
        self.mean, logvar = torch.chunk(parameters, 2, dim=1)
        self.logvar = torch.clamp(logvar, *LOGVAR_RANGE)
        self.deterministic = deterministic
        self.std = torch.exp(0.5 * self.logvar)
        self.var = torch.exp(self.logvar)
        if deterministic:
            self.var = self.std = torch.zeros_like(self.mean)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """mean + std * ε with ε ~ N(0, I) drawn on the parameters' device."""
        eps = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * eps

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self, other: "DiagonalGaussianDistribution | None" = None) -> torch.Tensor:
        """KL(self || other) summed over C, h, w (other: the standard normal)."""
        if self.deterministic:
            return torch.zeros(self.mean.shape[0], device=self.mean.device)
        dims = [1, 2, 3]
        if other is None:
            return 0.5 * torch.sum(self.mean.pow(2) + self.var - 1.0 - self.logvar, dim=dims)
        return 0.5 * torch.sum((self.mean - other.mean).pow(2) / other.var + self.var / other.var - 1.0
                               - self.logvar + other.logvar, dim=dims)

    def nll(self, sample: torch.Tensor, dims: Sequence[int] = (1, 2, 3)) -> torch.Tensor:
        """Negative log-likelihood of `sample`, summed over `dims`."""
        if self.deterministic:
            return torch.zeros(sample.shape[0], device=sample.device)
        log_two_pi = math.log(2.0 * math.pi)
        return 0.5 * torch.sum(log_two_pi + self.logvar + (sample - self.mean).pow(2) / self.var, dim=list(dims))
