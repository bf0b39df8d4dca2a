"""SamplerCustom's procedure: a given SAMPLER value over given σ with given initial noise,
classifier-free guidance from a MODEL and positive/negative conditioning (ComfyUI's
`comfy.sample.sample_custom`). The SAMPLER runs in ComfyUI's protocol against `GuiderModel`,
the guider seen as ComfyUI's `model_wrap`."""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from comfy_core.sampling.conditioning import from_comfy
from comfy_core.sampling.guider import CFGGuider, UNet
from comfy_core.sampling.ksampler import cfg_guider, denoise_mask
from comfy_core.sampling.model_call import DiffusionModel, model_sampling_of, unet_callable
from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.sampling.sampler_value import SamplerValue

# callback(step, x0, x, total_steps): step counts from 0; x0 is the denoised estimate.
StepCallback = Callable[[int, torch.Tensor, torch.Tensor, int], None]


class _ModelView:
    """The part of ComfyUI's BaseModel a sampler function reads (`model_sampling`)."""

    def __init__(self, model_sampling: ModelSampling) -> None:
        self.model_sampling = model_sampling


class GuiderModel:
    """ComfyUI's `model_wrap` protocol over the batched CFG guider: `(x, σ, model_options,
    seed) -> denoised`, honouring `sampler_post_cfg_function` hooks and
    `disable_cfg1_optimization` (the negative is then evaluated at cfg 1 too)."""

    def __init__(self, guider: CFGGuider, model_sampling: ModelSampling) -> None:
        self.guider, self.inner_model = guider, _ModelView(model_sampling)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, model_options: dict | None = None,
                 seed: int | None = None) -> torch.Tensor:
        options = model_options or {}
        cfg = self.guider.cfg
        if math.isclose(cfg, 1.0) and not options.get("disable_cfg1_optimization", False):
            cond = self.guider.predictions(x, sigma, sides=1)[0]
            uncond = torch.zeros_like(cond)
        else:
            cond, uncond = self.guider.predictions(x, sigma, sides=2)
        denoised = uncond + (cond - uncond) * cfg
        for hook in options.get("sampler_post_cfg_function", []):
            denoised = hook({"denoised": denoised, "cond": x - cond, "uncond": x - uncond, "cond_scale": cfg,
                             "model": self.inner_model, "uncond_denoised": uncond, "cond_denoised": cond,
                             "sigma": sigma, "model_options": options, "input": x})
        return denoised


def sample_custom(
    unet: UNet,
    model_sampling: ModelSampling,
    positive: Sequence[Any],
    negative: Sequence[Any],
    latent: dict,
    *,
    sampler: SamplerValue,
    sigmas: torch.Tensor,
    noise: torch.Tensor,
    cfg: float,
    seed: int,
    scale_factor: float,
    adm: str | None = None,
    callback: StepCallback | None = None,
    inpaint: bool = False,
    device: torch.device | str = "cpu",
) -> tuple[dict, dict]:
    """(output, denoised_output) LATENT dicts: the sampled latent and the model's last
    denoised estimate (the output itself when no step ran), on the CPU."""
    out, denoised_out = dict(latent), dict(latent)
    if len(sigmas) == 0:
        return out, denoised_out
    device = torch.device(device)
    latent_image = latent["samples"].float()
    if torch.count_nonzero(latent_image) > 0:  # an empty latent stays exactly zero
        latent_image = latent_image * scale_factor
    latent_image = latent_image.to(device)
    mask = denoise_mask(latent.get("noise_mask"), latent_image)
    guider = cfg_guider(unet, model_sampling, from_comfy(positive), from_comfy(negative), latent_image, mask,
                        cfg=cfg, scale_factor=scale_factor, adm=adm, inpaint=inpaint)
    last: dict[str, torch.Tensor] = {}

    def on_step(step: int, x0: torch.Tensor, x: torch.Tensor, total: int) -> None:
        last["x0"] = x0
        if callback is not None:
            callback(step, x0, x, total)

    samples = sampler.sample(GuiderModel(guider, model_sampling), sigmas, {"model_options": {}, "seed": seed}, on_step,
                             noise.to(device), latent_image, mask, disable_pbar=True)
    out["samples"] = (samples.float() / scale_factor).cpu()
    denoised_out["samples"] = (last["x0"].float() / scale_factor).cpu() if "x0" in last else out["samples"]
    return out, denoised_out


def sample_custom_model(model: DiffusionModel, positive: Sequence[Any], negative: Sequence[Any], latent: dict, *,
                        sampler: SamplerValue, sigmas: torch.Tensor, noise: torch.Tensor, cfg: float, seed: int,
                        callback: StepCallback | None = None,
                        wrap_unet: Callable[[UNet], UNet] | None = None) -> tuple[dict, dict]:
    """`sample_custom` on a loaded MODEL value (a `model_call.DiffusionModel`)."""
    unet = unet_callable(model)
    return sample_custom(unet if wrap_unet is None else wrap_unet(unet), model_sampling_of(model), positive, negative,
                         latent, sampler=sampler, sigmas=sigmas, noise=noise, cfg=cfg, seed=seed,
                         scale_factor=model.family.latent.scale_factor, adm=model.family.adm, callback=callback,
                         inpaint=model.family.inpaint, device=model.device)
