"""`comfy.sample`: ComfyUI's sampling entry points for plugins (COMPAT-PLUGINS 3.4), over
comfy.samplers (looked up when called, so a pack's replacement of `comfy.samplers.sample`
or `KSampler` is used) and our seeded noise."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np  # noqa: F401  (ComfyUI's module exposes `np`; packs read it)
import torch

import comfy.model_management
import comfy.samplers
from comfy_core.sampling.noise import prepare_noise as _prepare_noise


def prepare_noise(latent_image: torch.Tensor, seed: int,
                  noise_inds: Sequence[int] | None = None) -> torch.Tensor:
    """The initial noise of a KSampler run (CPU; one draw per batch index when given)."""
    return _prepare_noise(latent_image, seed, noise_inds)


def _latent_channels(model: Any) -> int:
    latent_format = getattr(getattr(model, "model", None), "latent_format", None)
    return int(getattr(latent_format, "latent_channels", 4))


def fix_empty_latent_channels(model: Any, latent_image: torch.Tensor) -> torch.Tensor:
    """An all-zero latent with the wrong channel count repeated to the model's count."""
    channels = _latent_channels(model)
    if channels != latent_image.shape[1] and torch.count_nonzero(latent_image) == 0:
        repeats = -(-channels // latent_image.shape[1])
        latent_image = latent_image.repeat(1, repeats, *([1] * (latent_image.ndim - 2)))
        latent_image = latent_image[:, :channels]
    return latent_image


def sample(model: Any, noise: torch.Tensor, steps: int, cfg: float, sampler_name: str,
           scheduler: str, positive: list, negative: list, latent_image: torch.Tensor,
           denoise: float = 1.0, disable_noise: bool = False, start_step: int | None = None,
           last_step: int | None = None, force_full_denoise: bool = False,
           noise_mask: torch.Tensor | None = None, sigmas: torch.Tensor | None = None,
           callback: Callable | None = None, disable_pbar: bool = False,
           seed: int | None = None) -> torch.Tensor:
    """KSampler's sampling of a raw latent with the given noise; on the intermediate device."""
    sampler = comfy.samplers.KSampler(model, steps=steps, device=getattr(model, "device", None),
                                      sampler=sampler_name, scheduler=scheduler,
                                      denoise=denoise)
    samples = sampler.sample(noise, positive, negative, cfg=cfg, latent_image=latent_image,
                             start_step=start_step, last_step=last_step,
                             force_full_denoise=force_full_denoise, denoise_mask=noise_mask,
                             sigmas=sigmas, callback=callback, disable_pbar=disable_pbar,
                             seed=seed)
    return samples.to(comfy.model_management.intermediate_device())


def sample_custom(model: Any, noise: torch.Tensor, cfg: float, sampler: Any, sigmas: torch.Tensor,
                  positive: list, negative: list, latent_image: torch.Tensor,
                  noise_mask: torch.Tensor | None = None, callback: Callable | None = None,
                  disable_pbar: bool = False, seed: int | None = None) -> torch.Tensor:
    """CFG sampling with a SAMPLER value and explicit sigmas; on the intermediate device."""
    samples = comfy.samplers.sample(model, noise, positive, negative, cfg,
                                    getattr(model, "device", None), sampler, sigmas,
                                    latent_image=latent_image, denoise_mask=noise_mask,
                                    callback=callback, disable_pbar=disable_pbar, seed=seed)
    return samples.to(comfy.model_management.intermediate_device())
