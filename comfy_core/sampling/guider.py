"""The GUIDER value: classifier-free guidance (Ho & Salimans 2022) of a MODEL with named
conditioning lists, with ComfyUI's CFGGuider interface (COMPAT-PLUGINS 3.3) because
custom-sampling nodes and plugins build, subclass and call guiders. KSampler uses it too.

`sample(noise, latent_image, sampler, sigmas, ...)` loads the model (and the models its
patches and ControlNets need), resolves the conditioning for this latent (areas, masks,
σ ranges, SDXL's ADM vector, the concat channels of inpainting UNets, the x4 upscaler's
low-resolution image and noise level, controls shared with the negative), scales the
latent in, runs the SAMPLER (`sampler_value.SamplerValue` or any object with its `sample`
protocol) against this guider, and scales the result out. The
guider is then ComfyUI's `model_wrap`: `guider(x, σ, model_options=..., seed=...)` is the
denoised estimate and `guider.inner_model` the base model. The OUTER_SAMPLE, SAMPLER_SAMPLE
and PREDICT_NOISE wrappers of the model run around the matching steps.

Ours beyond ComfyUI: `oom_splitter`, a factory for `model_call.ChunkSplitter` installed
for the run when set (how KSampler survives running out of memory).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from comfy_core.memory.current import load_models
from comfy_core.patching import model_options as mo
from comfy_core.patching.hooks import register_control_hooks
from comfy_core.runtime.plugin_host import replaced_step_function
from comfy_core.patching.extension import WrapperExecutor, WrappersMP, get_all_wrappers, merge_nested_dicts
from comfy_core.sampling.concat import ConcatSource
from comfy_core.sampling.conditioning import CondEntry, ResolvedCond, from_comfy, mirror_areas, resolve, share_controls
from comfy_core.sampling.low_res import with_low_res_image
from comfy_core.sampling.model_call import sampling_function

def convert_cond(cond: Sequence[Sequence[Any]]) -> list[CondEntry]:
    """CONDITIONING -> typed entries, each with a fresh uuid (ComfyUI's convert_cond)."""
    return from_comfy(cond)


def prepare_mask(mask: torch.Tensor, shape: Sequence[int], device: torch.device | str) -> torch.Tensor:
    """Noise mask [B|1, H, W] (or [H, W], [B, 1, H, W]) -> [B, C, h, w] by bilinear resize
    and repeats, on `device`."""
    mask = mask.to(device).reshape((-1, 1, mask.shape[-2], mask.shape[-1])).float()
    mask = torch.nn.functional.interpolate(mask, size=tuple(shape[2:]), mode="bilinear")
    if mask.shape[1] < shape[1]:
        mask = mask.repeat(1, shape[1], 1, 1)[:, : shape[1]]
    if mask.shape[0] < shape[0]:
        mask = mask.repeat(-(-shape[0] // mask.shape[0]), 1, 1, 1)
    return mask[: shape[0]]


def _concat_source(family: Any, latent_image: torch.Tensor, mask: torch.Tensor | None,
                   scale_factor: float) -> ConcatSource | None:
    """What inpainting UNets (mask + masked latent) and InstructPix2Pix UNets (the image
    latent: raw for SD1.x, scaled in for SDXL, as ComfyUI does) take after x."""
    if family.inpaint:
        return ConcatSource(latent_image, mask, scale_factor)
    if family.ip2p:
        return ConcatSource(latent_image, mask, scale_factor if family.adm else 1.0, ip2p=True)
    return None


def _controls(conds: dict[str, list[ResolvedCond]]) -> list[Any]:
    seen: dict[int, Any] = {}
    for entries in conds.values():
        for c in entries:
            if c.control is not None:
                seen.setdefault(id(c.control), c.control)
    return list(seen.values())


class CFGGuider:
    """`CFGGuider(model_patcher)`; `set_conds(positive, negative)`, `set_cfg(cfg)`, then
    `sample(...)`. Subclasses change `set_conds` and `predict_noise`."""

    def __init__(self, model_patcher: Any) -> None:
        self.model_patcher = model_patcher
        self.model_options: dict = model_patcher.model_options
        self.original_conds: dict[str, list[CondEntry]] = {}
        self.conds: dict[str, list] = {}  # a run's entry copies, then resolved for its latent
        self.cfg = 1.0
        self.oom_splitter: Callable[[Callable | None], Callable] | None = None

    def set_conds(self, positive: Sequence[Sequence[Any]], negative: Sequence[Sequence[Any]]) -> None:
        self.inner_set_conds({"positive": positive, "negative": negative})

    def set_cfg(self, cfg: float) -> None:
        self.cfg = cfg

    def inner_set_conds(self, conds: dict[str, Sequence[Sequence[Any]]]) -> None:
        for name, cond in conds.items():
            self.original_conds[name] = convert_cond(cond)

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.outer_predict_noise(*args, **kwargs)

    def outer_predict_noise(self, x: torch.Tensor, timestep: torch.Tensor, model_options: dict | None = None,
                            seed: int | None = None) -> torch.Tensor:
        wrappers = get_all_wrappers(WrappersMP.PREDICT_NOISE, self.model_options, is_model_options=True)
        executor = WrapperExecutor.new_class_executor(self.predict_noise, self, wrappers)
        return executor.execute(x, timestep, model_options if model_options is not None else {}, seed)

    def predict_noise(self, x: torch.Tensor, timestep: torch.Tensor, model_options: dict | None = None,
                      seed: int | None = None) -> torch.Tensor:
        """The denoised estimate at σ `timestep` (the override point of subclasses)."""
        step = replaced_step_function("sampling_function") or sampling_function  # late bound
        return step(self.inner_model, x, timestep, self.conds.get("negative"), self.conds.get("positive"),
                    self.cfg, model_options=model_options or {}, seed=seed)

    # ---- a sampling run ------------------------------------------------------------------

    def sample(self, noise: torch.Tensor, latent_image: torch.Tensor, sampler: Any, sigmas: torch.Tensor,
               denoise_mask: torch.Tensor | None = None, callback: Callable | None = None,
               disable_pbar: bool = False, seed: int | None = None) -> torch.Tensor:
        """Sampled latent (float32, in the VAE's latent space, on the load device); the
        input itself when `sigmas` is empty."""
        if sigmas.shape[-1] == 0:
            return latent_image
        original = self.model_options
        self.model_options = mo.create_model_options_clone(original)
        # This run's copies of the entries: outer-sample wrappers may read or replace them
        # (ControlNet packs swap in their own controls) before they are resolved.
        self.conds = {name: [entry.copy() for entry in entries] for name, entries in self.original_conds.items()}
        try:
            self._prepare_options()
            wrappers = get_all_wrappers(WrappersMP.OUTER_SAMPLE, self.model_options, is_model_options=True)
            executor = WrapperExecutor.new_class_executor(self.outer_sample, self, wrappers)
            with torch.no_grad():
                return executor.execute(noise, latent_image, sampler, sigmas, denoise_mask, callback,
                                        disable_pbar, seed)
        finally:
            self.model_options = original

    def _prepare_options(self) -> None:
        """This run's options: the patcher's wrappers and callbacks merged in, and our
        out-of-memory splitter around any unet wrapper."""
        controls = {id(c.control): c.control for entries in self.original_conds.values() for c in entries
                    if c.control is not None}
        register_control_hooks(controls.values(), self.model_patcher, self.model_options)
        to = self.model_options.setdefault(mo.TRANSFORMER_OPTIONS, {})
        to["wrappers"] = merge_nested_dicts(to.get("wrappers", {}), self.model_patcher.wrappers)
        to["callbacks"] = merge_nested_dicts(to.get("callbacks", {}), self.model_patcher.callbacks)
        if self.oom_splitter is not None:
            self.model_options[mo.MODEL_FUNCTION_WRAPPER] = self.oom_splitter(
                self.model_options.get(mo.MODEL_FUNCTION_WRAPPER))

    def _additional_models(self, conds: dict[str, list[CondEntry]]) -> list[Any]:
        controls = {id(c.control): c.control for entries in conds.values() for c in entries if c.control is not None}
        models = [m for control in controls.values() for m in control.get_models()]
        gligens = {id(c.gligen[1]): c.gligen[1] for entries in conds.values() for c in entries if c.gligen is not None}
        models += list(gligens.values())  # GLIGEN's patcher: its fusers run inside the UNet
        return models + self.model_patcher.get_nested_additional_models() + self.model_patcher.model_patches_models()

    def outer_sample(self, noise: torch.Tensor, latent_image: torch.Tensor, sampler: Any, sigmas: torch.Tensor,
                     denoise_mask: torch.Tensor | None = None, callback: Callable | None = None,
                     disable_pbar: bool = False, seed: int | None = None) -> torch.Tensor:
        """Load, run `inner_sample`, clean up."""
        patcher = self.model_patcher
        shape = [noise.shape[0] * 2] + list(noise.shape[1:])
        load_models([patcher] + self._additional_models(self.conds), patcher.memory_required(shape))
        self.inner_model = patcher.model
        device = patcher.load_device
        if denoise_mask is not None:
            denoise_mask = prepare_mask(denoise_mask, noise.shape, device)
        noise, latent_image = noise.to(device), latent_image.to(device)
        mo.move_patches_to(self.model_options, device)  # this run's copies of the patch objects
        mo.move_patches_to(self.model_options, patcher.model_dtype())
        patcher.pre_run()
        try:
            return self.inner_sample(noise, latent_image, device, sampler, sigmas, denoise_mask, callback,
                                     disable_pbar, seed)
        finally:
            patcher.cleanup()
            for control in _controls(self.conds):
                control.cleanup()
            del self.inner_model

    def inner_sample(self, noise: torch.Tensor, latent_image: torch.Tensor, device: torch.device, sampler: Any,
                     sigmas: torch.Tensor, denoise_mask: torch.Tensor | None, callback: Callable | None,
                     disable_pbar: bool, seed: int | None) -> torch.Tensor:
        if torch.count_nonzero(latent_image) > 0:  # an empty latent stays exactly zero
            latent_image = self.inner_model.process_latent_in(latent_image)
        self.conds = self.process_conds(latent_image, denoise_mask, device, seed)
        run_options = mo.create_model_options_clone(self.model_options)
        run_options.setdefault(mo.TRANSFORMER_OPTIONS, {})["sample_sigmas"] = sigmas
        extra_args = {"model_options": run_options, "seed": seed}
        wrappers = get_all_wrappers(WrappersMP.SAMPLER_SAMPLE, run_options, is_model_options=True)
        executor = WrapperExecutor.new_class_executor(sampler.sample, sampler, wrappers)
        samples = executor.execute(self, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)
        return self.inner_model.process_latent_out(samples.to(torch.float32))

    def process_conds(self, latent_image: torch.Tensor, denoise_mask: torch.Tensor | None,
                      device: torch.device, seed: int | None = None) -> dict[str, list[ResolvedCond]]:
        """Every named cond list of this run (`self.conds`, the entries `sample` copied)
        made concrete for this latent (see conditioning.resolve), areas mirrored across
        lists, positive controls shared with the others when asked, ControlNets told the
        run is starting."""
        model = self.inner_model
        ms, family = model.model_sampling, model.family
        concat = _concat_source(family, latent_image, denoise_mask, model.latent_format.scale_factor)
        conds = {name: resolve(entries, latent_image.shape, ms, family.adm, negative=name != "positive",
                               concat=concat, device=device, adm_size=family.adm_size, seed=seed)
                 for name, entries in self.conds.items()}
        conds = with_low_res_image(family, getattr(model, "noise_augmentor", None), conds, latent_image.shape, seed,
                                   device)
        for name in list(conds):
            for other in conds:
                if other != name:
                    conds[other] = mirror_areas(conds[other], conds[name])
        if "positive" in conds:
            for name in conds:
                if name != "positive":
                    conds[name] = share_controls(conds["positive"], conds[name])
        for control in _controls(conds):
            control.pre_run(model, lambda percent: ms.percent_to_sigma(percent))
        return conds
