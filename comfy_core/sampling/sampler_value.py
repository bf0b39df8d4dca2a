"""The SAMPLER value of the custom-sampling nodes, in ComfyUI's KSAMPLER protocol
(COMPAT-PLUGINS 3.3, 3.15), because plugins create, wrap and consume these values.

A SAMPLER holds a sampler function in k-diffusion's protocol
`fn(model, x, sigmas, extra_args=None, callback=None, disable=None, **options)`, where
`model(x, σ·ones(B), **extra_args)` returns the denoised estimate and `callback` receives
`{"x", "i", "sigma", "sigma_hat", "denoised"}` each step, plus its options and inpainting
options. `sample(model_wrap, ...)` is what a GUIDER calls: `model_wrap` is the guider
(callable as `model_wrap(x, σ, model_options=..., seed=...)`, with
`model_wrap.inner_model.model_sampling`).

Built-in samplers are the registry's pure functions seen through `kdiffusion_function`:
the unconditional prediction that CFG++ samplers read comes from the guider's post-CFG hook
with the cfg-1 shortcut disabled, as in ComfyUI, or directly from a denoiser that offers
`guided(x, σ)`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from comfy_core.sampling.sampler_base import Guided
from comfy_core.sampling.samplers import SamplerSpec, get_sampler


class KDiffusionDenoiser:
    """A k-diffusion-protocol model seen as our denoiser: `D(x, σ)` and `guided(x, σ)`."""

    def __init__(self, model: Callable[..., torch.Tensor], extra_args: dict) -> None:
        self.model, self.extra_args = model, extra_args

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.model(x, sigma, **self.extra_args)

    def guided(self, x: torch.Tensor, sigma: torch.Tensor) -> Guided:
        if callable(getattr(self.model, "guided", None)):
            return self.model.guided(x, sigma)
        seen: dict[str, torch.Tensor] = {}

        def keep_uncond(args: dict) -> torch.Tensor:
            seen["uncond"] = args["uncond_denoised"]
            return args["denoised"]

        options = dict(self.extra_args.get("model_options") or {})
        options["sampler_post_cfg_function"] = list(options.get("sampler_post_cfg_function", [])) + [keep_uncond]
        options["disable_cfg1_optimization"] = True
        denoised = self.model(x, sigma, **{**self.extra_args, "model_options": options})
        if "uncond" not in seen:
            raise RuntimeError("this sampler reads the unconditional prediction, but the guider did not pass it to "
                               "its post-CFG functions")
        return Guided(denoised, seen["uncond"])


def kdiffusion_callback(callback: Callable[[dict], Any] | None, sigmas: torch.Tensor):  # type: ignore[no-untyped-def]
    """Our step callback `(i, x, denoised)` feeding a k-diffusion callback dict."""
    if callback is None:
        return None

    def report(i: int, x: torch.Tensor, denoised: torch.Tensor) -> None:
        sigma = sigmas[min(i, len(sigmas) - 1)]
        callback({"x": x, "i": i, "sigma": sigma, "sigma_hat": sigma, "denoised": denoised})

    return report


def kdiffusion_function(name: str) -> Callable[..., torch.Tensor]:
    """The built-in sampler `name` in k-diffusion's protocol (what `comfy.k_diffusion.sampling
    .sample_<name>` and a SAMPLER's `sampler_function` are)."""
    return as_kdiffusion(get_sampler(name), f"sample_{name}")


def as_kdiffusion(spec: SamplerSpec, name: str) -> Callable[..., torch.Tensor]:
    """A sampler of ours (`spec.fn`, our protocol) in k-diffusion's protocol."""

    def sample(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None, **options):  # type: ignore[no-untyped-def]
        extra_args = dict(extra_args or {})
        ms = model_sampling_of(model)
        if ms is not None:
            options = spec.options_for(ms, options)
        return spec.fn(KDiffusionDenoiser(model, extra_args), x, sigmas, callback=kdiffusion_callback(callback, sigmas),
                       noise=noise_sampler, seed=extra_args.get("seed"), **options)

    sample.__name__ = sample.__qualname__ = name
    sample.__doc__ = spec.fn.__doc__
    return sample


def model_sampling_of(model: Any) -> Any:
    """The model sampling behind a k-diffusion-protocol model (ComfyUI's
    `model.inner_model.inner_model.model_sampling`), or None."""
    inner = getattr(getattr(model, "inner_model", None), "inner_model", None)
    return getattr(inner, "model_sampling", None)


class InpaintModel:
    """What a SAMPLER hands its function (ComfyUI's KSamplerX0Inpaint): the guider, with the
    unmasked region held on the noised original when a denoise mask is given (COMPAT 9.4)."""

    def __init__(self, model_wrap: Any, sigmas: torch.Tensor, latent_image: torch.Tensor, noise: torch.Tensor) -> None:
        self.inner_model, self.sigmas, self.latent_image, self.noise = model_wrap, sigmas, latent_image, noise

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, denoise_mask: torch.Tensor | None = None,
                 model_options: dict | None = None, seed: int | None = None) -> torch.Tensor:
        model_options = model_options if model_options is not None else {}
        if denoise_mask is not None:
            mask_fn = model_options.get("denoise_mask_function")
            if mask_fn is not None:
                denoise_mask = mask_fn(sigma, denoise_mask, extra_options={"model": self.inner_model, "sigmas": self.sigmas})
            keep = 1.0 - denoise_mask
            ms = self.inner_model.inner_model.model_sampling
            sigma_b = sigma.reshape([sigma.shape[0]] + [1] * (self.noise.ndim - 1))
            x = x * denoise_mask + ms.noise_scaling(sigma_b, self.noise, self.latent_image) * keep
        out = self.inner_model(x, sigma, model_options=model_options, seed=seed)
        if denoise_mask is not None:
            out = out * denoise_mask + self.latent_image * keep
        return out


class SamplerValue:
    """A SAMPLER (ComfyUI's KSAMPLER): `sampler_function` with `extra_options` passed as
    keyword options, and `inpaint_options` ({"random": True}: the inpainting blend uses fresh
    noise seeded seed+1, as ddim does)."""

    def __init__(self, sampler_function: Callable[..., torch.Tensor], extra_options: dict | None = None,
                 inpaint_options: dict | None = None) -> None:
        self.sampler_function = sampler_function
        self.extra_options = dict(extra_options or {})
        self.inpaint_options = dict(inpaint_options or {})

    @classmethod
    def builtin(cls, name: str, options: dict | None = None) -> SamplerValue:
        """The built-in sampler `name` (what KSamplerSelect and the sampler nodes return);
        unknown option names are refused here, not mid-run."""
        spec = get_sampler(name)
        inpaint = {"random": True} if spec.random_inpaint_noise else {}
        return cls(kdiffusion_function(name), spec.options_for_value(options), inpaint)

    @classmethod
    def of(cls, fn: Callable[..., torch.Tensor], options: dict | None = None) -> SamplerValue:
        """A SAMPLER for a sampler function of ours outside the registry (our protocol)."""
        spec = SamplerSpec(fn)
        return cls(as_kdiffusion(spec, fn.__name__), spec.options_for_value(options))

    def max_denoise(self, model_wrap: Any, sigmas: torch.Tensor) -> bool:
        """Whether σ_0 is the model's σ_max (or above): the noise is then scaled as for txt2img."""
        max_sigma = float(model_wrap.inner_model.model_sampling.sigma_max)
        sigma = float(sigmas[0])
        return math.isclose(max_sigma, sigma, rel_tol=1e-05) or sigma > max_sigma

    def sample(self, model_wrap: Any, sigmas: torch.Tensor, extra_args: dict, callback: Callable | None,
               noise: torch.Tensor, latent_image: torch.Tensor | None = None, denoise_mask: torch.Tensor | None = None,
               disable_pbar: bool = False) -> torch.Tensor:
        """Noise-scale, run the function over `sigmas`, inverse-scale. `callback(i, denoised,
        x, total_steps)`; `latent_image` is already in the model's latent space."""
        extra_args["denoise_mask"] = denoise_mask
        ms = model_wrap.inner_model.model_sampling
        blend_noise = noise
        if self.inpaint_options.get("random", False):
            generator = torch.Generator(device="cpu").manual_seed(int(extra_args.get("seed", 41)) + 1)
            blend_noise = torch.randn(noise.shape, generator=generator, device="cpu").to(noise)
        model_k = InpaintModel(model_wrap, sigmas, latent_image, blend_noise)
        x = ms.noise_scaling(sigmas[0], noise, latent_image, self.max_denoise(model_wrap, sigmas))
        total = len(sigmas) - 1
        k_callback = None if callback is None else (lambda d: callback(d["i"], d["denoised"], d["x"], total))
        samples = self.sampler_function(model_k, x, sigmas, extra_args=extra_args, callback=k_callback,
                                        disable=disable_pbar, **self.extra_options)
        return ms.inverse_noise_scaling(sigmas[-1], samples)
