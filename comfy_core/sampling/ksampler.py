"""The KSampler procedure (COMPAT 9.1-9.5): schedule with denoise / start / end
truncation, seeded initial noise, latent scaling, inpainting mask blending, the concat
channels of inpainting UNets, CFG guider, sampler, and the ComfyUI LATENT dict in and out."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from comfy_core.sampling.concat import ConcatSource
from comfy_core.sampling.conditioning import from_comfy, mirror_areas, resolve
from comfy_core.sampling.guider import CFGGuider, UNet
from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.sampling.noise import prepare_noise, zero_noise
from comfy_core.sampling.sampler_base import Denoiser, Guided, guided
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
    mask = mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).float()
    mask = F.interpolate(mask, size=tuple(shape[2:]), mode="bilinear")
    if mask.shape[1] < shape[1]:
        mask = mask.repeat(1, shape[1], 1, 1)[:, : shape[1]]
    if mask.shape[0] < shape[0]:
        mask = mask.repeat(-(-shape[0] // mask.shape[0]), 1, 1, 1)
    return mask[: shape[0]]


class InpaintDenoiser:
    """Keeps the unmasked region on the noised original (COMPAT 9.4): before each call
    x = x·m + (latent + noise·σ)·(1−m); after, denoised·m + latent·(1−m)."""

    def __init__(self, inner: Denoiser, ms: ModelSampling, latent: torch.Tensor, noise: torch.Tensor, mask: torch.Tensor) -> None:
        self.inner, self.ms, self.latent, self.noise, self.mask = inner, ms, latent, noise, mask

    def _masked_input(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return x * self.mask + self.ms.noise_scaling(sigma, self.noise, self.latent) * (1.0 - self.mask)

    def _masked_output(self, denoised: torch.Tensor) -> torch.Tensor:
        return denoised * self.mask + self.latent * (1.0 - self.mask)

    def guided(self, x: torch.Tensor, sigma: torch.Tensor) -> Guided:
        out = guided(self.inner, self._masked_input(x, sigma), sigma)
        return Guided(self._masked_output(out.denoised), out.uncond)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self._masked_output(self.inner(self._masked_input(x, sigma), sigma))


def sample(
    unet: UNet,
    model_sampling: ModelSampling,
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
    scale_factor: float,
    adm: str | None = None,
    callback: ProgressCallback | None = None,
    inpaint: bool = False,
    ip2p: bool = False,
    device: torch.device | str = "cpu",
) -> dict:
    """Run one KSampler / KSamplerAdvanced job; returns a new LATENT dict with the samples on
    the CPU. `inpaint`: the UNet takes the concat channels (mask + masked latent) after x;
    `ip2p`: it takes the conditioning's image latent there (InstructPix2Pix).
    `device` is where the UNet runs: the loop's tensors (latent, noise, conditioning) live
    there, so step noise comes from that device's generator (COMPAT 9.2) and no step copies;
    σ stays on the host, where the samplers' decisions read it without waiting on the device."""
    spec = get_sampler(sampler_name)
    latent_image = latent["samples"].float()
    noise = zero_noise(latent_image) if not add_noise else prepare_noise(latent_image, seed, latent.get("batch_index"))
    device = torch.device(device)
    sigmas = truncate_sigmas(
        schedule_sigmas(model_sampling, scheduler, sampler_name, steps, denoise), start_step, last_step, force_full_denoise
    )
    out = dict(latent)
    if sigmas is None or len(sigmas) == 0:
        out["samples"] = latent["samples"]
        return out
    if torch.count_nonzero(latent_image) > 0:  # an empty latent stays exactly zero
        latent_image = latent_image * scale_factor
    samples = run_sampler(
        functools.partial(spec.fn, **spec.options_for(model_sampling)), unet, model_sampling, from_comfy(positive), from_comfy(negative), latent_image.to(device),
        noise.to(device), sigmas, seed=seed, cfg=cfg, scale_factor=scale_factor, adm=adm, callback=callback,
        noise_mask=latent.get("noise_mask"), random_inpaint_noise=spec.random_inpaint_noise,
        inpaint=inpaint, ip2p=ip2p,
    )
    out["samples"] = samples.cpu()
    return out


def denoise_mask(noise_mask: torch.Tensor | None, latent_image: torch.Tensor) -> torch.Tensor | None:
    """A LATENT's noise mask resized to the latent on its device ([B, C, h, w]), or None."""
    if noise_mask is None:
        return None
    return reshape_mask(noise_mask.to(latent_image.device), latent_image.shape)


def cfg_guider(unet: UNet, ms: ModelSampling, positive: Sequence[Any], negative: Sequence[Any],
               latent_image: torch.Tensor, mask: torch.Tensor | None, *, cfg: float, scale_factor: float,
               adm: str | None = None, inpaint: bool = False, ip2p: bool = False) -> CFGGuider:
    """The CFG guider for this latent: conditioning resolved for its shape and device
    (areas mirrored to the other side, the concat channels of inpainting and InstructPix2Pix
    UNets)."""
    device = latent_image.device
    concat = ConcatSource(latent_image, mask, scale_factor) if inpaint else None
    if ip2p:  # SD1.x InstructPix2Pix models take the raw VAE latent, SDXL ones it scaled in
        concat = ConcatSource(latent_image, mask, scale_factor if adm else 1.0, ip2p=True)
    pos = resolve(positive, latent_image.shape, ms, adm, negative=False, concat=concat, device=device)
    neg = resolve(negative, latent_image.shape, ms, adm, negative=True, concat=concat, device=device)
    neg = mirror_areas(neg, pos)
    pos = mirror_areas(pos, neg)
    return CFGGuider(unet, ms, pos, neg, cfg)


def run_sampler(
    sampler: Callable[..., torch.Tensor],
    unet: UNet,
    ms: ModelSampling,
    positive: Sequence[Any],
    negative: Sequence[Any],
    latent_image: torch.Tensor,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    seed: int,
    cfg: float,
    scale_factor: float,
    adm: str | None = None,
    callback: ProgressCallback | None = None,
    noise_mask: torch.Tensor | None = None,
    random_inpaint_noise: bool = False,
    inpaint: bool = False,
    ip2p: bool = False,
) -> torch.Tensor:
    """Build the guider, sample over `sigmas` (host σ), scale out. `latent_image` is already
    scaled in; the loop runs on its device, where conditioning and masks are moved once."""
    mask = denoise_mask(noise_mask, latent_image)
    denoiser: Denoiser = cfg_guider(unet, ms, positive, negative, latent_image, mask, cfg=cfg,
                                    scale_factor=scale_factor, adm=adm, inpaint=inpaint, ip2p=ip2p)
    if mask is not None:
        blend_noise = noise
        if random_inpaint_noise:
            gen = torch.Generator(device="cpu").manual_seed(int(seed) + 1)
            blend_noise = torch.randn(noise.shape, generator=gen, device="cpu").to(noise)
        denoiser = InpaintDenoiser(denoiser, ms, latent_image, blend_noise, mask)
    x = ms.noise_scaling(sigmas[0], noise, latent_image, ms.is_max_denoise(sigmas))
    total = len(sigmas) - 1

    def on_step(i: int, _x: torch.Tensor, denoised: torch.Tensor) -> None:
        if callback is not None:
            callback(i + 1, total, denoised)

    samples = sampler(denoiser, x, sigmas, seed=seed, callback=on_step)
    samples = ms.inverse_noise_scaling(sigmas[-1], samples)
    return samples.float() / scale_factor
