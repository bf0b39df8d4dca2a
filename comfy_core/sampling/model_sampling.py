"""Discrete-time model sampling for SD1/SD2/SDXL: the σ table, σ <-> timestep, and the
eps / v prediction scalings (Karras et al. 2022, "Elucidating the Design Space", Table 1
with σ_data = 1; v-prediction from Salimans & Ho 2022).

The numbers follow COMPAT 9.3 exactly: betas in float64, σ table stored float32,
log σ computed in float64 before the cast, integer-rounded timesteps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

# The terminal ᾱ that the zero-terminal-SNR rescale pins (Lin et al. 2023, "Common
# Diffusion Noise Schedules and Sample Steps are Flawed"), kept finite so σ_T is finite.
ZSNR_LAST_ALPHA_CUMPROD = 4.8973451890853435e-08
# What percent_to_sigma returns for percent <= 0: "always active" for timestep ranges.
SIGMA_BEFORE_START = 999999999.9


@dataclass(frozen=True)
class SamplingConfig:
    """How a checkpoint was trained: prediction target and its discrete noise schedule."""

    prediction: str = "eps"  # "eps" | "v"
    zsnr: bool = False
    linear_start: float = 0.00085
    linear_end: float = 0.012
    timesteps: int = 1000


def _expand(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """σ [B] (or scalar) -> [B, 1, 1, ...] broadcastable against `like`."""
    sigma = torch.as_tensor(sigma, dtype=like.dtype, device=like.device)
    if sigma.ndim == 0:
        return sigma
    return sigma.view(sigma.shape[:1] + (1,) * (like.ndim - 1))


class Prediction(Protocol):
    """What the network predicts, as the scalings around the raw network call."""

    def calculate_input(self, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor: ...

    def calculate_denoised(
        self, sigma: torch.Tensor, model_output: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor: ...


@dataclass(frozen=True)
class EpsPrediction:
    """ε-prediction (Ho et al. 2020) in the VE form: D(x) = x − σ·ε̂."""

    sigma_data: float = 1.0

    def calculate_input(self, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        s = _expand(sigma, x)
        return x / (s**2 + self.sigma_data**2) ** 0.5

    def calculate_denoised(
        self, sigma: torch.Tensor, model_output: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        return x - model_output * _expand(sigma, x)


@dataclass(frozen=True)
class VPrediction(EpsPrediction):
    """v-prediction (Salimans & Ho 2022): D(x) = x·σd²/(σ²+σd²) − v̂·σ·σd/√(σ²+σd²)."""

    def calculate_denoised(
        self, sigma: torch.Tensor, model_output: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        s = _expand(sigma, x)
        sd2 = self.sigma_data**2
        return x * sd2 / (s**2 + sd2) - model_output * s * self.sigma_data / (s**2 + sd2) ** 0.5


PREDICTIONS: dict[str, Prediction] = {"eps": EpsPrediction(), "v": VPrediction()}


def linear_sigmas(config: SamplingConfig) -> torch.Tensor:
    """σ_t for t = 0..T−1 in float64 from the "linear" (sqrt-spaced) beta schedule."""
    betas = torch.linspace(
        config.linear_start**0.5, config.linear_end**0.5, config.timesteps, dtype=torch.float64
    ) ** 2
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
    return rescale_zero_terminal_snr(sigmas) if config.zsnr else sigmas


def rescale_zero_terminal_snr(sigmas: torch.Tensor) -> torch.Tensor:
    """Shift and scale √ᾱ so the last step has (almost) zero SNR (Lin et al. 2023, Alg. 1)."""
    sqrt_ab = (1.0 / (sigmas * sigmas + 1)).sqrt()
    first, last = sqrt_ab[0].clone(), sqrt_ab[-1].clone()
    sqrt_ab = (sqrt_ab - last) * first / (first - last)
    alphas_bar = sqrt_ab**2
    alphas_bar[-1] = ZSNR_LAST_ALPHA_CUMPROD
    return ((1 - alphas_bar) / alphas_bar) ** 0.5


class ModelSampling:
    """σ table plus prediction scalings for one discrete-time model. Immutable after
    construction; the tables live on the CPU, with a copy of log σ kept per other device
    so `timestep` runs where σ is (no host round trip per step); results follow the input."""

    def __init__(self, config: SamplingConfig = SamplingConfig()) -> None:
        if config.prediction not in PREDICTIONS:
            raise ValueError(
                f"unknown prediction type {config.prediction!r}; expected one of {sorted(PREDICTIONS)}"
            )
        self.config = config
        self.prediction: Prediction = PREDICTIONS[config.prediction]
        sigmas64 = linear_sigmas(config)
        self.sigmas = sigmas64.float()  # [T]
        self.log_sigmas = sigmas64.log().float()  # [T]
        self._log_sigmas_on: dict[torch.device, torch.Tensor] = {}

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """Index of the nearest log σ in the table (integer-valued float tensor)."""
        sigma = torch.as_tensor(sigma)
        table = self._table_on(sigma.device)
        dists = sigma.float().log().reshape(1, -1) - table[:, None]  # [T, N]
        return dists.abs().argmin(dim=0).view(sigma.shape).float()

    def _table_on(self, device: torch.device) -> torch.Tensor:
        if device.type == "cpu":
            return self.log_sigmas
        if device not in self._log_sigmas_on:
            self._log_sigmas_on[device] = self.log_sigmas.to(device)
        return self._log_sigmas_on[device]

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        """σ at a (fractional) timestep: exp of the linear interpolation of log σ."""
        timestep = torch.as_tensor(timestep)
        t = timestep.float().cpu().clamp(0, len(self.sigmas) - 1)
        low, high, w = t.floor().long(), t.ceil().long(), t.frac()
        log_sigma = (1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]
        return log_sigma.exp().to(timestep.device)

    def percent_to_sigma(self, percent: float) -> float:
        """Sampling progress (0 = start, 1 = end) -> σ; used by timestep ranges."""
        if percent <= 0.0:
            return SIGMA_BEFORE_START
        if percent >= 1.0:
            return 0.0
        return float(self.sigma(torch.tensor((1.0 - percent) * 999.0)))

    def calculate_input(self, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """x [B,C,H,W] -> the network input x·c_in."""
        return self.prediction.calculate_input(sigma, x)

    def calculate_denoised(
        self, sigma: torch.Tensor, model_output: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        """Raw network output (ε̂ or v̂) -> denoised estimate D(x, σ)."""
        return self.prediction.calculate_denoised(sigma, model_output, x)

    def noise_scaling(
        self,
        sigma: torch.Tensor,
        noise: torch.Tensor,
        latent_image: torch.Tensor,
        max_denoise: bool = False,
    ) -> torch.Tensor:
        """Initial x: noise·σ + latent, or noise·√(1+σ²) + latent when starting from the
        top of the schedule (the VP prior's variance seen in VE units)."""
        s = _expand(sigma, noise)
        scale = torch.sqrt(1.0 + s**2.0) if max_denoise else s
        return noise * scale + latent_image

    def inverse_noise_scaling(self, sigma: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Identity for eps/v discrete models (kept for symmetry with flow models)."""
        return latent

    def is_max_denoise(self, sigmas: torch.Tensor) -> bool:
        """True when the schedule starts at (or above) σ_max (rel. tolerance 1e-5)."""
        max_sigma, first = float(self.sigma_max), float(sigmas[0])
        return math.isclose(max_sigma, first, rel_tol=1e-05) or first > max_sigma
