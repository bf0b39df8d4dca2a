"""`comfy.samplers`: ComfyUI's sampler and scheduler names, the KSampler object, SAMPLER and
GUIDER values for plugins (COMPAT-PLUGINS 3.3), over comfy_core.sampling.

`KSampler.SAMPLERS` / `.SCHEDULERS` are the module's SAMPLER_NAMES / SCHEDULER_NAMES list
objects (packs use them as combo lists and append their own). `calculate_sigmas` looks the
scheduler up in SCHEDULER_HANDLERS when called, so a pack's added handler is used. The
SAMPLER value is our SamplerValue (ComfyUI's KSAMPLER protocol), the GUIDER our CFGGuider
(which loads its models through the memory manager when sampling starts);
`sampling_function`, `cfg_function` and `calc_cond_batch` are the per-step functions it uses;
they are late bound: a pack that assigns one of them here has its function called by the
next sampling step (`comfy._late_bound`).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, NamedTuple

import torch

from comfy_core.sampling import schedules
from comfy_core.sampling.guider import CFGGuider
from comfy_core.sampling.ksampler import truncate_sigmas
from comfy._late_bound import declare_late_bound
from comfy_core.sampling.model_call import LATE_BOUND, calc_cond_batch, cfg_function, model_sampling_of, sampling_function
from comfy_core.sampling.sampler_value import InpaintModel, SamplerValue, kdiffusion_function
from comfy_core.sampling.samplers import SAMPLER_NAMES as _ALL, get_sampler

log = logging.getLogger(__name__)

KSAMPLER = SamplerValue
KSamplerX0Inpaint = InpaintModel
_NOT_KDIFFUSION = ("ddim", "uni_pc", "uni_pc_bh2")
KSAMPLER_NAMES = [n for n in _ALL if n not in _NOT_KDIFFUSION]
SAMPLER_NAMES = KSAMPLER_NAMES + [n for n in _NOT_KDIFFUSION if n in _ALL]
SCHEDULER_NAMES = list(schedules.SCHEDULER_NAMES)


class SchedulerHandler(NamedTuple):
    """`handler(model_sampling, steps)`, or with `use_ms=False` `handler(n=, sigma_min=,
    sigma_max=)`."""

    handler: Callable[..., torch.Tensor]
    use_ms: bool = True


SCHEDULER_HANDLERS: dict[str, SchedulerHandler] = {
    name: SchedulerHandler(fn) for name, fn in schedules.SCHEDULERS.items()}
SCHEDULER_HANDLERS["karras"] = SchedulerHandler(
    lambda n, sigma_min, sigma_max: schedules.karras(n, sigma_min, sigma_max), use_ms=False)
SCHEDULER_HANDLERS["exponential"] = SchedulerHandler(
    lambda n, sigma_min, sigma_max: schedules.exponential(n, sigma_min, sigma_max), use_ms=False)


def calculate_sigmas(model_sampling: Any, scheduler_name: str, steps: int) -> torch.Tensor:
    """`steps + 1` sigmas of the named schedule for a model sampling object."""
    handler = SCHEDULER_HANDLERS.get(scheduler_name)
    if handler is None:
        raise ValueError(f"error invalid scheduler {scheduler_name}")
    if handler.use_ms:
        return handler.handler(model_sampling, steps).float()
    return handler.handler(n=steps, sigma_min=float(model_sampling.sigma_min),
                           sigma_max=float(model_sampling.sigma_max)).float()


def ksampler(sampler_name: str, extra_options: dict | None = None,
             inpaint_options: dict | None = None) -> SamplerValue:
    """The SAMPLER of `comfy.k_diffusion.sampling.sample_<name>`, looked up now (a pack's
    replacement of that function is used)."""
    import comfy.k_diffusion.sampling as k_diffusion_sampling

    function = getattr(k_diffusion_sampling, f"sample_{sampler_name}", None)
    if function is None:
        if sampler_name not in _ALL:
            raise AttributeError(f"unknown sampler 'sample_{sampler_name}'")
        function = kdiffusion_function(sampler_name)
    return SamplerValue(function, extra_options, inpaint_options)


def sampler_object(name: str) -> SamplerValue:
    """The SAMPLER a KSampler node uses for `name` (ddim: euler with random inpaint noise)."""
    return SamplerValue.builtin(name)


class Sampler:
    """Base of ComfyUI's sampler objects (our SAMPLER values have the same methods)."""

    def sample(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("a Sampler subclass implements sample()")

    def max_denoise(self, model_wrap: Any, sigmas: torch.Tensor) -> bool:
        max_sigma = float(model_wrap.inner_model.model_sampling.sigma_max)
        return float(sigmas[0]) >= max_sigma * (1 - 1e-5)


class KSampler:
    """ComfyUI's KSampler object: a schedule for `steps` (at `denoise`) computed at
    construction, and `sample` with CFG. Unknown names fall back to the first entry."""

    SCHEDULERS = SCHEDULER_NAMES
    SAMPLERS = SAMPLER_NAMES
    DISCARD_PENULTIMATE_SIGMA_SAMPLERS = {n for n in _ALL if get_sampler(n).discard_penultimate_sigma}

    def __init__(self, model: Any, steps: int, device: Any, sampler: str | None = None,
                 scheduler: str | None = None, denoise: float | None = None,
                 model_options: dict | None = None) -> None:
        self.model = model
        self.device = device
        self.scheduler = scheduler if scheduler in self.SCHEDULERS else self.SCHEDULERS[0]
        self.sampler = sampler if sampler in self.SAMPLERS else self.SAMPLERS[0]
        self.set_steps(steps, denoise)
        self.denoise = denoise
        self.model_options = model_options or {}

    def calculate_sigmas(self, steps: int) -> torch.Tensor:
        discard = self.sampler in self.DISCARD_PENULTIMATE_SIGMA_SAMPLERS
        sigmas = calculate_sigmas(model_sampling_of(self.model), self.scheduler,
                                  steps + 1 if discard else steps)
        return torch.cat([sigmas[:-2], sigmas[-1:]]) if discard else sigmas

    def set_steps(self, steps: int, denoise: float | None = None) -> None:
        self.steps = steps
        if denoise is None or denoise > 0.9999:
            self.sigmas = self.calculate_sigmas(steps)
        elif denoise <= 0.0:
            self.sigmas = torch.zeros(0)
        else:
            self.sigmas = self.calculate_sigmas(int(steps / denoise))[-(steps + 1):]

    def sample(self, noise: torch.Tensor, positive: list, negative: list, cfg: float,
               latent_image: torch.Tensor | None = None, start_step: int | None = None,
               last_step: int | None = None, force_full_denoise: bool = False,
               denoise_mask: torch.Tensor | None = None, sigmas: torch.Tensor | None = None,
               callback: Callable | None = None, disable_pbar: bool = False,
               seed: int | None = None) -> torch.Tensor:
        sigmas = self.sigmas if sigmas is None else sigmas
        sigmas = truncate_sigmas(sigmas, start_step, last_step, force_full_denoise)
        if sigmas is None:
            return latent_image if latent_image is not None else torch.zeros_like(noise)
        if latent_image is None:
            latent_image = torch.zeros_like(noise)
        return sample(self.model, noise, positive, negative, cfg, self.device,
                      sampler_object(self.sampler), sigmas, self.model_options,
                      latent_image=latent_image, denoise_mask=denoise_mask, callback=callback,
                      disable_pbar=disable_pbar, seed=seed)


def sample(model: Any, noise: torch.Tensor, positive: list, negative: list, cfg: float,
           device: Any, sampler: Any, sigmas: torch.Tensor, model_options: dict | None = None,
           latent_image: torch.Tensor | None = None, denoise_mask: torch.Tensor | None = None,
           callback: Callable | None = None, disable_pbar: bool = False,
           seed: int | None = None) -> torch.Tensor:
    """CFGGuider over `model` with `sampler` and `sigmas` (`device`, `model_options` are
    unused, as in ComfyUI: the model's own options apply)."""
    guider = CFGGuider(model)  # the module's, looked up now (packs may replace it)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    return guider.sample(noise, latent_image, sampler, sigmas, denoise_mask=denoise_mask,
                         callback=callback, disable_pbar=disable_pbar, seed=seed)


declare_late_bound(__name__, LATE_BOUND)
