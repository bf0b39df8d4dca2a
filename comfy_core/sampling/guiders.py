"""GUIDER values (ComfyUI's CFGGuider interface, COMPAT-PLUGINS 3.3), which plugins subclass
and call: `Guider(model)`, `set_conds(...)`, `set_cfg(...)`, `predict_noise(x, σ,
model_options, seed)` (the denoised estimate, the override point) and `sample(noise,
latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed)`, which runs a
SAMPLER value against the guider itself (it is the sampler's `model_wrap`).

The conditioning lists are resolved for the latent when sampling starts (`conds`); their
predictions come from one batched UNet pass (`calc_cond_batch`, the CFGGuider of
`guider.py`). Post-CFG hooks in `model_options["sampler_post_cfg_function"]` see ComfyUI's
arguments, and `disable_cfg1_optimization` makes cfg 1 evaluate the negative too.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from comfy_core.sampling.concat import ConcatSource
from comfy_core.sampling.conditioning import ResolvedCond, from_comfy, mirror_areas, resolve
from comfy_core.sampling.guider import CFGGuider
from comfy_core.sampling.ksampler import denoise_mask as resize_mask
from comfy_core.sampling.model_call import model_sampling_of, unet_callable
from comfy_core.sampling.model_sampling import ModelSampling


class LatentModel:
    """What a guider's `inner_model` offers during a run (ComfyUI's BaseModel subset that
    samplers and hooks read): the model sampling and the latent scale in and out."""

    def __init__(self, model_sampling: ModelSampling, scale_factor: float) -> None:
        self.model_sampling, self.scale_factor = model_sampling, scale_factor

    def process_latent_in(self, latent: torch.Tensor) -> torch.Tensor:
        return latent * self.scale_factor

    def process_latent_out(self, latent: torch.Tensor) -> torch.Tensor:
        return latent / self.scale_factor


class Guider:
    """Classifier-free guidance over positive and negative (ComfyUI's CFGGuider)."""

    def __init__(self, model_patcher: Any) -> None:
        self.model_patcher = model_patcher
        self.model_options: dict = getattr(model_patcher, "model_options", None) or {}
        self.original_conds: dict[str, list] = {}
        self.cfg = 1.0
        self.conds: dict[str, list[ResolvedCond]] = {}  # resolved for the running latent
        self.inner_model: LatentModel | None = None
        self.unet_wrapper: Callable | None = None  # set by the node for out-of-memory recovery
        self._predictor: CFGGuider | None = None

    def set_conds(self, positive: list, negative: list) -> None:
        self.inner_set_conds({"positive": positive, "negative": negative})

    def inner_set_conds(self, conds: dict[str, list]) -> None:
        """Keep the CONDITIONING lists by role (validated now, resolved when sampling)."""
        for name, cond in conds.items():
            from_comfy(cond)  # a malformed list fails here, naming the entry
        self.original_conds = {name: list(cond) for name, cond in conds.items()}

    def set_cfg(self, cfg: float) -> None:
        self.cfg = float(cfg)

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.predict_noise(*args, **kwargs)

    def calc_cond_batch(self, conds: Sequence[Sequence[ResolvedCond] | None], x: torch.Tensor,
                        sigma: torch.Tensor, model_options: dict | None = None) -> list[torch.Tensor]:
        """Each list's prediction from shared batched UNet calls (None predicts zeros)."""
        if self._predictor is None:
            raise RuntimeError("the guider is not sampling: its conditioning is resolved by sample()")
        return self._predictor.predict(conds, x, sigma)

    def predict_noise(self, x: torch.Tensor, timestep: torch.Tensor, model_options: dict | None = None,
                      seed: int | None = None) -> torch.Tensor:
        """The CFG result; at cfg 1 the negative is skipped (zeros) unless the options carry
        `disable_cfg1_optimization`."""
        options = model_options or {}
        positive, negative = self.conds.get("positive"), self.conds.get("negative")
        if math.isclose(self.cfg, 1.0) and not options.get("disable_cfg1_optimization", False):
            negative = None
        cond, uncond = self.calc_cond_batch([positive, negative], x, timestep, options)
        return self.cfg_function(cond, uncond, self.cfg, x, timestep, options, cond=positive, uncond=negative)

    def cfg_function(self, cond_pred, uncond_pred, cond_scale, x, sigma, options, cond=None, uncond=None):  # type: ignore[no-untyped-def]
        """uncond + (cond − uncond)·scale, then the post-CFG hooks (ComfyUI's cfg_function)."""
        result = uncond_pred + (cond_pred - uncond_pred) * cond_scale
        return self.post_cfg(result, cond_pred, uncond_pred, x, sigma, options, cond_scale=cond_scale, cond=cond,
                             uncond=uncond)

    def post_cfg(self, denoised, cond_pred, uncond_pred, x, sigma, options, **args):  # type: ignore[no-untyped-def]
        """Apply `sampler_post_cfg_function` hooks with ComfyUI's arguments (`args` supplies
        cond_scale, cond, uncond and any extra keys)."""
        for hook in options.get("sampler_post_cfg_function", []):
            denoised = hook({"denoised": denoised, "cond": args.get("cond"), "uncond": args.get("uncond"),
                             "cond_scale": args.get("cond_scale", self.cfg), "model": self.inner_model,
                             "uncond_denoised": uncond_pred, "cond_denoised": cond_pred, "sigma": sigma,
                             "model_options": options, "input": x,
                             **{k: v for k, v in args.items() if k not in ("cond", "uncond", "cond_scale")}})
        return denoised

    def sample(self, noise: torch.Tensor, latent_image: torch.Tensor, sampler: Any, sigmas: torch.Tensor,
               denoise_mask: torch.Tensor | None = None, callback: Callable | None = None,
               disable_pbar: bool = False, seed: int | None = None) -> torch.Tensor:
        """Sample `latent_image` (raw VAE latent) from `noise` over `sigmas` with the SAMPLER;
        returns the raw latent (float32, on the model's device); no σ: the input as is."""
        if sigmas.shape[-1] == 0:
            return latent_image
        model = self.model_patcher
        family, device = model.family, torch.device(model.device)
        ms = model_sampling_of(model)
        self.inner_model = LatentModel(ms, family.latent.scale_factor)
        latent = latent_image.float()
        if torch.count_nonzero(latent) > 0:  # an empty latent stays exactly zero
            latent = self.inner_model.process_latent_in(latent)
        latent = latent.to(device)
        mask = resize_mask(denoise_mask, latent)
        unet = unet_callable(model)
        unet = unet if self.unet_wrapper is None else self.unet_wrapper(unet)
        self.conds = self._resolve(ms, latent, mask, family)
        self._predictor = CFGGuider(unet, ms, [], [], self.cfg)
        try:
            extra_args = {"model_options": dict(self.model_options), "seed": seed}
            samples = sampler.sample(self, sigmas, extra_args, callback, noise.to(device), latent, mask, disable_pbar)
        finally:
            self._predictor, self.conds = None, {}
        return self.inner_model.process_latent_out(samples.float())

    def _resolve(self, ms: ModelSampling, latent: torch.Tensor, mask: torch.Tensor | None,
                 family: Any) -> dict[str, list[ResolvedCond]]:
        """Each role's conditioning made concrete for this latent; area entries mirrored to
        the other roles (COMPAT 9.4)."""
        concat = ConcatSource(latent, mask, family.latent.scale_factor) if family.inpaint else None
        conds = {name: resolve(from_comfy(cond), latent.shape, ms, family.adm, negative=name != "positive",
                               concat=concat, device=latent.device)
                 for name, cond in self.original_conds.items()}
        for name in list(conds):
            for other in conds:
                if other != name:
                    conds[other] = mirror_areas(conds[other], conds[name])
        return conds


class BasicGuider(Guider):
    """One conditioning, no guidance (ComfyUI's Guider_Basic)."""

    def set_conds(self, positive: list) -> None:  # type: ignore[override]
        self.inner_set_conds({"positive": positive})


def as_negative(conditioning: list) -> list:
    """A copy of the CONDITIONING marked as a negative prompt (SDXL refiners encode it so)."""
    return [[tensor, {**options, "prompt_type": "negative"}] for tensor, options in conditioning]


class DualCFGGuider(Guider):
    """Two prompts and a negative: cond2 guided against the negative with cfg2 and cond1
    added against cond2 with cfg1 ("regular"), or cond1-vs-cond2 guidance nested inside
    the guidance against the negative ("nested")."""

    def set_cfg(self, cfg1: float, cfg2: float, nested: bool = False) -> None:  # type: ignore[override]
        self.cfg1, self.cfg2, self.nested = float(cfg1), float(cfg2), nested

    def set_conds(self, positive: list, middle: list, negative: list) -> None:  # type: ignore[override]
        self.inner_set_conds({"positive": positive, "middle": as_negative(middle), "negative": negative})

    def predict_noise(self, x, timestep, model_options=None, seed=None):  # type: ignore[no-untyped-def]
        options = model_options or {}
        negative, middle, positive = (self.conds.get(k) for k in ("negative", "middle", "positive"))
        if self.nested:
            out = self.calc_cond_batch([negative, middle, positive], x, timestep, options)
            text = self.cfg_function(out[2], out[1], self.cfg1, x, timestep, options, cond=positive, uncond=middle)
            return out[0] + self.cfg2 * (text - out[0])
        if not options.get("disable_cfg1_optimization", False) and math.isclose(self.cfg2, 1.0):
            negative = None
            if math.isclose(self.cfg1, 1.0):
                middle = None
        out = self.calc_cond_batch([negative, middle, positive], x, timestep, options)
        guided = self.cfg_function(out[1], out[0], self.cfg2, x, timestep, options, cond=middle, uncond=negative)
        return guided + (out[2] - out[1]) * self.cfg1


def perp_neg(pos: torch.Tensor, neg: torch.Tensor, empty: torch.Tensor, neg_scale: float, cfg: float) -> torch.Tensor:
    """Perp-Neg (Armandpour et al. 2023): guide along (pos − empty) minus only the part of
    (neg − empty) perpendicular to it, scaled by neg_scale."""
    along, against = pos - empty, neg - empty
    perpendicular = against - (against * along).sum() / torch.norm(along) ** 2 * along
    return empty + cfg * (along - perpendicular * neg_scale)


class PerpNegGuider(Guider):
    """CFG with Perp-Neg's negative, measured from an empty-prompt prediction."""

    def set_conds(self, positive: list, negative: list, empty_negative_prompt: list) -> None:  # type: ignore[override]
        self.inner_set_conds({"positive": positive, "empty_negative_prompt": as_negative(empty_negative_prompt),
                              "negative": negative})

    def set_cfg(self, cfg: float, neg_scale: float = 1.0) -> None:  # type: ignore[override]
        self.cfg, self.neg_scale = float(cfg), float(neg_scale)

    def predict_noise(self, x, timestep, model_options=None, seed=None):  # type: ignore[no-untyped-def]
        options = model_options or {}
        positive, negative, empty = (self.conds.get(k) for k in ("positive", "negative", "empty_negative_prompt"))
        if not options.get("disable_cfg1_optimization", False) and math.isclose(self.neg_scale, 0.0):
            negative = None
            if math.isclose(self.cfg, 1.0):
                empty = None
        pos, neg, nothing = self.calc_cond_batch([positive, negative, empty], x, timestep, options)
        result = perp_neg(pos, neg, nothing, self.neg_scale, self.cfg)
        return self.post_cfg(result, pos, neg, x, timestep, options, cond=positive, uncond=negative,
                             empty_cond=empty, empty_cond_denoised=nothing)
