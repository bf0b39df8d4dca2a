"""What a network predicts, as the scalings around one raw network call: mix-ins combined
with a schedule class (`model_sampling`), the way ComfyUI's `comfy.model_sampling` does it
(COMPAT-PLUGINS 3.11), because plugins build `class X(ModelSamplingDiscrete, EPS)`.

Every mix-in reads `self.sigma_data` and works in the variance-exploding units of
Karras et al. 2022 ("Elucidating the Design Space", Table 1): x = x0 + σ·ε.
- `calculate_input(σ, x)`: what the network sees (c_in·x).
- `calculate_denoised(σ, out, x)`: the network's raw output -> D(x, σ).
- `noise_scaling(σ, noise, latent, max_denoise)`: the start of sampling from a latent.
- `inverse_noise_scaling(σ, latent)`: back to the latent space at the end.
"""

from __future__ import annotations

import torch


def expand_sigma(sigma: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """σ [B] (or a scalar) -> [B, 1, 1, ...] broadcastable against `like`."""
    sigma = torch.as_tensor(sigma, device=like.device)
    if not sigma.is_floating_point():
        sigma = sigma.float()
    if sigma.ndim == 0:
        return sigma
    return sigma.reshape(sigma.shape[:1] + (1,) * (like.ndim - 1))


class EPS:
    """ε-prediction (Ho et al. 2020) in the VE form: c_in = 1/√(σ²+σd²), D = x − σ·ε̂."""

    sigma_data: float = 1.0

    def calculate_input(self, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        s = expand_sigma(sigma, noise)
        return noise / (s**2 + self.sigma_data**2) ** 0.5

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor,
                           model_input: torch.Tensor) -> torch.Tensor:
        return model_input - model_output * expand_sigma(sigma, model_output)

    def noise_scaling(self, sigma: torch.Tensor, noise: torch.Tensor, latent_image: torch.Tensor,
                      max_denoise: bool = False) -> torch.Tensor:
        """noise·σ + latent, or noise·√(1+σ²) + latent when starting at the top of the
        schedule (the VP prior's variance seen in VE units)."""
        s = expand_sigma(sigma, noise)
        scale = torch.sqrt(1.0 + s**2.0) if max_denoise else s
        return noise * scale + latent_image

    def inverse_noise_scaling(self, sigma: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        return latent


class V_PREDICTION(EPS):  # noqa: N801 - ComfyUI's class name
    """v-prediction (Salimans & Ho 2022): D = x·σd²/(σ²+σd²) − v̂·σ·σd/√(σ²+σd²)."""

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor,
                           model_input: torch.Tensor) -> torch.Tensor:
        s, sd = expand_sigma(sigma, model_output), self.sigma_data
        return model_input * sd**2 / (s**2 + sd**2) - model_output * s * sd / (s**2 + sd**2) ** 0.5


class EDM(V_PREDICTION):
    """The EDM preconditioning (Karras et al. 2022, Table 1): D = c_skip·x + c_out·F̂ with
    c_out = +σ·σd/√(σ²+σd²) (the sign differs from v-prediction's)."""

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor,
                           model_input: torch.Tensor) -> torch.Tensor:
        s, sd = expand_sigma(sigma, model_output), self.sigma_data
        return model_input * sd**2 / (s**2 + sd**2) + model_output * s * sd / (s**2 + sd**2) ** 0.5


class CONST:
    """Rectified flow (Liu et al. 2022): x = (1−σ)·x0 + σ·ε, the network predicts ε − x0."""

    sigma_data: float = 1.0

    def calculate_input(self, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return noise

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor,
                           model_input: torch.Tensor) -> torch.Tensor:
        return model_input - model_output * expand_sigma(sigma, model_output)

    def noise_scaling(self, sigma: torch.Tensor, noise: torch.Tensor, latent_image: torch.Tensor,
                      max_denoise: bool = False) -> torch.Tensor:
        s = expand_sigma(sigma, noise)
        return s * noise + (1.0 - s) * latent_image

    def inverse_noise_scaling(self, sigma: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        return latent / (1.0 - expand_sigma(sigma, latent))


class X0(EPS):
    """The network predicts the clean sample itself."""

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor,
                           model_input: torch.Tensor) -> torch.Tensor:
        return model_output


class IMG_TO_IMG(X0):  # noqa: N801 - ComfyUI's class name
    """x0-prediction from the unscaled input (image-to-image models)."""

    def calculate_input(self, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return noise


class COSMOS_RFLOW:  # noqa: N801 - ComfyUI's class name
    """Rectified flow expressed in VE σ: t = σ/(σ+1), input (1−t)·x, D = (1−t)·x − t·F̂."""

    sigma_data: float = 1.0

    def calculate_input(self, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        t = expand_sigma(sigma, noise)
        t = t / (t + 1)
        return noise * (1.0 - t)

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor,
                           model_input: torch.Tensor) -> torch.Tensor:
        t = expand_sigma(sigma, model_output)
        t = t / (t + 1)
        return model_input * (1.0 - t) - model_output * t

    def noise_scaling(self, sigma: torch.Tensor, noise: torch.Tensor, latent_image: torch.Tensor,
                      max_denoise: bool = False) -> torch.Tensor:
        return noise * expand_sigma(sigma, noise) + latent_image

    def inverse_noise_scaling(self, sigma: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        return latent


# LCM's consistency boundary condition (Luo et al. 2023, "Latent Consistency Models", eq. 4
# with the timestep scaled by 10 and σ_data = 0.5, as diffusers' LCMScheduler does).
LCM_SIGMA_DATA = 0.5
LCM_TIMESTEP_SCALING = 10.0


class LCM(EPS):
    """Latent Consistency Model output: D = c_skip(t)·x + c_out(t)·x̂0 with the ε-prediction's
    x̂0 and t the discrete timestep of σ (needs the schedule's `timestep`)."""

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor,
                           model_input: torch.Tensor) -> torch.Tensor:
        t = expand_sigma(self.timestep(sigma), model_output) * LCM_TIMESTEP_SCALING  # type: ignore[attr-defined]
        x0 = model_input - model_output * expand_sigma(sigma, model_output)
        c_skip = LCM_SIGMA_DATA**2 / (t**2 + LCM_SIGMA_DATA**2)
        c_out = t / (t**2 + LCM_SIGMA_DATA**2) ** 0.5
        return c_out * x0 + c_skip * model_input
