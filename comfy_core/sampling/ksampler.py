"""The KSampler procedure (COMPAT 9.1-9.5): schedule with denoise / start / end
truncation and seeded initial noise, then the CFG guider (`guider.CFGGuider`, which
scales the latent, resolves the conditioning, blends inpainting masks and honours the
model's patches) running the named built-in sampler; the ComfyUI LATENT dict in and out."""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import torch

from comfy_core.sampling.guider import CFGGuider, prepare_mask
from comfy_core.sampling.model_call import model_sampling_of
from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.sampling.noise import prepare_noise, zero_noise
from comfy_core.sampling.sampler_value import SamplerValue
from comfy_core.sampling.samplers import get_sampler
from comfy_core.sampling.schedules import calculate_sigmas

log = logging.getLogger(__name__)

# callback(step, total, x0): step counts from 1; x0 is the denoised estimate [B,C,h,w].
ProgressCallback = Callable[[int, int, torch.Tensor], None]


def schedule_sigmas(ms: ModelSampling, scheduler: str, sampler_name: str, steps: int, denoise: float = 1.0) -> torch.Tensor:
    """σ for `steps` steps at strength `denoise`: a longer schedule's tail when denoise < 1,
    the second-to-last σ dropped for samplers that need it (COMPAT 9.5)."""

    discard = get_sampler(sampler_name).discard_penultimate_sigma

    def full(n: int) -> torch.Tensor:
        if discard:
            s = calculate_sigmas(ms, scheduler, n + 1)
            return torch.cat([s[:-2], s[-1:]])
        return calculate_sigmas(ms, scheduler, n)

    if denoise is None or denoise > 0.9999:
        return full(steps)
    if denoise <= 0.0:
        return torch.zeros(0)
    return full(int(steps / denoise))[-(steps + 1) :]


def truncate_sigmas(
    sigmas: torch.Tensor, start_step: int | None, last_step: int | None, force_full_denoise: bool
) -> torch.Tensor | None:
    """KSamplerAdvanced's start/end handling; None means "return the latent untouched"."""
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[: last_step + 1].clone()
        if force_full_denoise:
            sigmas[-1] = 0
    if start_step is not None:
        if start_step >= len(sigmas) - 1:
            return None
        sigmas = sigmas[start_step:]
    return sigmas


def reshape_mask(mask: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Noise mask [B|1, H, W] (or [H, W]) -> [B, C, h, w] by bilinear resize and repeats."""
    return prepare_mask(mask, shape, mask.device)


def sample(
    model: Any,
    positive: Sequence[Any],
    negative: Sequence[Any],
    latent: dict,
    *,
    seed: int,
    steps: int,
    cfg: float,
    sampler_name: str,
    scheduler: str,
    denoise: float = 1.0,
    start_step: int | None = None,
    last_step: int | None = None,
    force_full_denoise: bool = False,
    add_noise: bool = True,
    callback: ProgressCallback | None = None,
    guider: CFGGuider | None = None,
) -> dict:
    """Run one KSampler / KSamplerAdvanced job on a MODEL value; returns a new LATENT dict
    with the samples on the CPU. The loop runs on the model's load device (step noise from
    that device's generator, COMPAT 9.2); σ stays on the host, where the samplers' decisions
    read it without waiting on the device. `guider` (default: a CFGGuider of `model`) lets
    the caller set run options such as its out-of-memory splitter."""
    latent_image = latent["samples"].float()
    noise = zero_noise(latent_image) if not add_noise else prepare_noise(latent_image, seed, latent.get("batch_index"))
    sigmas = truncate_sigmas(schedule_sigmas(model_sampling_of(model), scheduler, sampler_name, steps, denoise),
                             start_step, last_step, force_full_denoise)
    out = dict(latent)
    if sigmas is None or len(sigmas) == 0:
        out["samples"] = latent["samples"]
        return out
    guider = guider or CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)

    def on_step(i: int, x0: torch.Tensor, _x: torch.Tensor, total: int) -> None:
        if callback is not None:
            callback(i + 1, total, x0)

    samples = guider.sample(noise, latent_image, SamplerValue.builtin(sampler_name), sigmas,
                            denoise_mask=latent.get("noise_mask"), callback=on_step, seed=seed)
    out["samples"] = samples.cpu()
    return out
