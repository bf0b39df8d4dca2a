"""Model sampling: the σ schedule of a model (σ <-> timestep, its range) combined with a
prediction mix-in from `predictions` (what the network outputs). The classes have
ComfyUI's names and interface (COMPAT-PLUGINS 3.11) because plugins subclass them
(`class X(ModelSamplingDiscrete, EPS)`) and patch a MODEL's `model_sampling` with them.

- `ModelSamplingDiscrete(model_config=None, zsnr=None)`: the 1000-step DDPM table.
- `ModelSamplingDiscreteDistilled`: the 50 σ an LCM was distilled on (every 20th step).
- `ModelSamplingContinuousEDM`, `…ContinuousV`, `…CosmosRFlow`: continuous σ with
  `set_parameters(sigma_min, sigma_max, sigma_data)`.
- `ModelSampling(SamplingConfig)`: what the loader builds (discrete + eps or v).

The numbers follow COMPAT 9.3 exactly: betas in float64, σ table stored float32, log σ
computed in float64 before the cast, integer-rounded timesteps. The tables are
non-persistent buffers (they move with the model, never enter a state dict); `timestep`
keeps a copy of log σ per other device, so it runs where σ is (no host round trip).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from comfy_core.sampling.predictions import EPS, IMG_TO_IMG, V_PREDICTION

# The terminal ᾱ that the zero-terminal-SNR rescale pins (Lin et al. 2023, "Common
# Diffusion Noise Schedules and Sample Steps are Flawed"), kept finite so σ_T is finite.
ZSNR_LAST_ALPHA_CUMPROD = 4.8973451890853435e-08
# What percent_to_sigma returns for percent <= 0: "always active" for timestep ranges.
SIGMA_BEFORE_START = 999999999.9
CONTINUOUS_STEPS = 1000  # table length of the continuous schedules (for schedulers)


@dataclass(frozen=True)
class SamplingConfig:
    """How a checkpoint was trained: prediction target and its discrete noise schedule."""

    prediction: str = "eps"  # "eps" | "v" | "img_to_img"
    zsnr: bool = False
    linear_start: float = 0.00085
    linear_end: float = 0.012
    timesteps: int = 1000

    @property
    def sampling_settings(self) -> dict[str, Any]:
        """ComfyUI's `model_config.sampling_settings` for this config."""
        return {"beta_schedule": "linear", "linear_start": self.linear_start, "linear_end": self.linear_end,
                "timesteps": self.timesteps, "zsnr": self.zsnr}


def linear_betas(timesteps: int, linear_start: float, linear_end: float) -> torch.Tensor:
    """The "linear" (sqrt-spaced) DDPM beta schedule of LDM, float64 [T]."""
    return torch.linspace(linear_start**0.5, linear_end**0.5, timesteps, dtype=torch.float64) ** 2


def linear_sigmas(config: SamplingConfig) -> torch.Tensor:
    """σ_t for t = 0..T−1 in float64 from the "linear" (sqrt-spaced) beta schedule."""
    alphas_cumprod = torch.cumprod(1.0 - linear_betas(config.timesteps, config.linear_start, config.linear_end), 0)
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


def _settings(model_config: Any) -> dict[str, Any]:
    return dict(getattr(model_config, "sampling_settings", None) or {}) if model_config is not None else {}


def _interp_log(log_sigmas: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """exp of the linear interpolation of a log σ table at fractional index t (clamped)."""
    t = t.float().to(log_sigmas.device).clamp(0, len(log_sigmas) - 1)
    low, high, w = t.floor().long(), t.ceil().long(), t.frac()
    return ((1 - w) * log_sigmas[low] + w * log_sigmas[high]).exp()


class _Table(nn.Module):
    """A σ table with `sigmas`, `log_sigmas`, `sigma_min/max` and a per-device log σ copy."""

    def set_sigmas(self, sigmas: torch.Tensor) -> None:
        """Store σ (float32) and log σ (computed in the input's precision, then float32)."""
        self.register_buffer("sigmas", sigmas.float(), persistent=False)
        self.register_buffer("log_sigmas", sigmas.log().float(), persistent=False)
        self._log_sigmas_on: dict[torch.device, torch.Tensor] = {}

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]

    def _table_on(self, device: torch.device) -> torch.Tensor:
        if device == self.log_sigmas.device:
            return self.log_sigmas
        if device not in self._log_sigmas_on:
            self._log_sigmas_on[device] = self.log_sigmas.to(device)
        return self._log_sigmas_on[device]

    def _nearest_index(self, sigma: torch.Tensor) -> torch.Tensor:
        """Index of the nearest log σ in the table, on σ's device (integer-valued)."""
        sigma = torch.as_tensor(sigma)
        dists = sigma.float().log().reshape(1, -1) - self._table_on(sigma.device)[:, None]  # [T, N]
        return dists.abs().argmin(dim=0).view(sigma.shape)

    def percent_to_sigma(self, percent: float) -> float:
        """Sampling progress (0 = start, 1 = end) -> σ; used by timestep ranges."""
        if percent <= 0.0:
            return SIGMA_BEFORE_START
        if percent >= 1.0:
            return 0.0
        return self._percent_to_sigma(1.0 - percent)

    def _percent_to_sigma(self, remaining: float) -> float:
        return float(self.sigma(torch.tensor(remaining * 999.0)))


class ModelSamplingDiscrete(_Table):
    """The discrete DDPM schedule of SD1/SD2/SDXL (optionally zero-terminal-SNR); pair it
    with a prediction mix-in."""

    def __init__(self, model_config: Any = None, zsnr: bool | None = None) -> None:
        super().__init__()
        settings = _settings(model_config)
        if zsnr is None:
            zsnr = bool(settings.get("zsnr", False))
        self._register_schedule(timesteps=int(settings.get("timesteps", 1000)),
                                linear_start=float(settings.get("linear_start", 0.00085)),
                                linear_end=float(settings.get("linear_end", 0.012)), zsnr=zsnr)
        self.sigma_data = 1.0

    def _register_schedule(self, given_betas: torch.Tensor | None = None, beta_schedule: str = "linear",
                           timesteps: int = 1000, linear_start: float = 1e-4, linear_end: float = 2e-2,
                           cosine_s: float = 8e-3, zsnr: bool = False) -> None:
        """σ from the betas (only the "linear" schedule is used by these model families)."""
        if beta_schedule != "linear" and given_betas is None:
            raise ValueError(f"unsupported beta schedule {beta_schedule!r} (only 'linear')")
        betas = given_betas if given_betas is not None else linear_betas(timesteps, linear_start, linear_end)
        alphas_cumprod = torch.cumprod(1.0 - betas.double(), dim=0)
        self.num_timesteps = int(betas.shape[0])
        self.linear_start, self.linear_end, self.zsnr = linear_start, linear_end, zsnr
        sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        self.set_sigmas(rescale_zero_terminal_snr(sigmas) if zsnr else sigmas)

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        """Index of the nearest log σ in the table (integer-valued float tensor)."""
        return self._nearest_index(sigma).float()

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        """σ at a (fractional) timestep: exp of the linear interpolation of log σ."""
        timestep = torch.as_tensor(timestep)
        return _interp_log(self.log_sigmas, timestep).to(timestep.device)


class ModelSamplingDiscreteDistilled(ModelSamplingDiscrete):
    """The σ an LCM was distilled on: `original_timesteps` (50) of the 1000, ending at the
    last one (t = 999, 979, ..., 19); timestep(σ) names the original step index."""

    original_timesteps = 50

    def __init__(self, model_config: Any = None, zsnr: bool | None = None) -> None:
        super().__init__(model_config, zsnr=zsnr)
        self.skip_steps = self.num_timesteps // self.original_timesteps
        picked = [self.num_timesteps - 1 - i * self.skip_steps for i in range(self.original_timesteps)]
        self.set_sigmas(self.sigmas[torch.tensor(picked[::-1])].clone())

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return (self._nearest_index(sigma) * self.skip_steps + (self.skip_steps - 1)).float()

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        timestep = torch.as_tensor(timestep)
        index = (timestep.float() - (self.skip_steps - 1)) / self.skip_steps
        return _interp_log(self.log_sigmas, index).to(timestep.device)


class ModelSamplingContinuousEDM(_Table):
    """Continuous σ in [sigma_min, sigma_max] with EDM's c_noise: timestep = ¼·ln σ
    (Karras et al. 2022, Table 1); `sigmas` is a 1000-point log-spaced table for schedulers."""

    def __init__(self, model_config: Any = None) -> None:
        super().__init__()
        settings = _settings(model_config)
        self.set_parameters(float(settings.get("sigma_min", 0.002)), float(settings.get("sigma_max", 120.0)),
                            float(settings.get("sigma_data", 1.0)))

    def set_parameters(self, sigma_min: float, sigma_max: float, sigma_data: float) -> None:
        if not 0.0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")
        self.sigma_data = sigma_data
        self.set_sigmas(torch.linspace(math.log(sigma_min), math.log(sigma_max), CONTINUOUS_STEPS).exp())

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return 0.25 * torch.as_tensor(sigma).log()

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        return (torch.as_tensor(timestep) / 0.25).exp()

    def _percent_to_sigma(self, remaining: float) -> float:
        """Log-linear between σ_min and σ_max."""
        lo = math.log(float(self.sigma_min))
        return math.exp((math.log(float(self.sigma_max)) - lo) * remaining + lo)


class ModelSamplingContinuousV(ModelSamplingContinuousEDM):
    """Continuous σ with the angular timestep of v-diffusion: t = 2/π·atan σ."""

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(sigma).atan() / math.pi * 2

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        return (torch.as_tensor(timestep) * math.pi / 2).tan()


class ModelSamplingCosmosRFlow(ModelSamplingContinuousEDM):
    """Continuous σ read as rectified-flow time t = σ/(σ+1) (capped at σ_max's t)."""

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma)
        return sigma / (sigma + 1)

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        timestep = torch.as_tensor(timestep)
        sigma_max = self.sigma_max.to(timestep.device)
        return torch.where(timestep >= sigma_max / (sigma_max + 1), sigma_max, timestep / (1 - timestep))


class ModelSampling(ModelSamplingDiscrete):
    """What the loader builds from a SamplingConfig: the discrete schedule with the eps, v or
    image-to-image mix-in. `ModelSampling(config)` returns an instance of `DiscreteEps`,
    `DiscreteV` or `DiscreteImgToImg` (subclasses of this class), so `isinstance(ms, EPS)`
    works as in ComfyUI."""

    def __new__(cls, config: SamplingConfig = SamplingConfig()) -> "ModelSampling":
        if cls is ModelSampling:
            if config.prediction not in DISCRETE_KINDS:
                raise ValueError(f"unknown prediction type {config.prediction!r}; "
                                 f"expected one of {sorted(DISCRETE_KINDS)}")
            cls = DISCRETE_KINDS[config.prediction]
        return super().__new__(cls)

    def __init__(self, config: SamplingConfig = SamplingConfig()) -> None:
        super().__init__(config, zsnr=config.zsnr)
        self.config = config

    def is_max_denoise(self, sigmas: torch.Tensor) -> bool:
        """True when the schedule starts at (or above) σ_max (rel. tolerance 1e-5)."""
        max_sigma, first = float(self.sigma_max), float(sigmas[0])
        return math.isclose(max_sigma, first, rel_tol=1e-05) or first > max_sigma


class DiscreteEps(ModelSampling, EPS):
    """Discrete schedule, ε-prediction (SD1.x, SD2.x base, SDXL)."""


class DiscreteV(ModelSampling, V_PREDICTION):
    """Discrete schedule, v-prediction (SD2.x 768-v)."""


class DiscreteImgToImg(ModelSampling, IMG_TO_IMG):
    """Discrete schedule, the clean sample predicted from the unscaled input (Lotus)."""


DISCRETE_KINDS: dict[str, type[ModelSampling]] = {"eps": DiscreteEps, "v": DiscreteV, "img_to_img": DiscreteImgToImg}
