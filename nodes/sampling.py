"""KSampler and KSamplerAdvanced: denoise a LATENT with a MODEL and CONDITIONING."""

from __future__ import annotations

from comfy_core.sampling.guider import CFGGuider
from comfy_core.sampling.ksampler import sample
from comfy_core.sampling.model_call import ChunkSplitter
from comfy_core.sampling.samplers import SAMPLER_NAMES
from comfy_core.sampling.schedules import SCHEDULER_NAMES
from nodes.common import check_interrupt, folders, oom_recovery, sampler_progress, setting

_SEED = {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True}
_STEPS = {"default": 20, "min": 1, "max": 10000}
_CFG = {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01}


def _tip(text: str, **options) -> dict:
    return {**options, "tooltip": text}


def _common_inputs(seed_name: str) -> dict:
    return {
        "model": ("MODEL", _tip("Denoising model.")),
        seed_name: ("INT", _tip("Seed of the initial noise.", **_SEED)),
        "steps": ("INT", _tip("Number of denoising steps.", **_STEPS)),
        "cfg": ("FLOAT", _tip("Classifier-free guidance scale: 1 ignores the negative prompt, "
                              "higher follows the prompt more closely.", **_CFG)),
        "sampler_name": (list(SAMPLER_NAMES), _tip("Sampling algorithm.")),
        "scheduler": (list(SCHEDULER_NAMES), _tip("Noise schedule (how sigmas fall over the steps).")),
        "positive": ("CONDITIONING", _tip("What the image should show.")),
        "negative": ("CONDITIONING", _tip("What the image should avoid.")),
        "latent_image": ("LATENT", _tip("Latent to denoise.")),
    }


def _maybe_compile(model) -> None:
    """--compile: route the UNet through torch.compile, caching kernels in the user dir."""
    flags = setting("memory", None)
    if flags is not None and getattr(flags, "compile", False):
        from comfy_core.models.compile import CompileOptions, compile_unet

        compile_unet(model, CompileOptions(cache_dir=folders().user_dir / "compile_cache"))


def run_on_model(guider, *, steps: int, attempt) -> object:
    """Run `attempt(progress)` on the guider's MODEL with per-step progress and previews
    (`progress(step, x0, x, total)`, step from 0), interrupts and out-of-memory recovery:
    smaller batches (the guider's run splits its model calls), then streamed weights. The
    guider loads its models itself."""
    model = guider.model_patcher
    check_interrupt()
    _maybe_compile(model)
    progress = sampler_progress(model, steps)
    recovery = oom_recovery([model])
    splitter = ChunkSplitter(recovery.free)  # its split size is kept across retries

    def install(inner):
        splitter.inner = inner
        return splitter

    guider.oom_splitter = install
    try:
        return recovery.run_streaming(model, lambda: attempt(progress), "sampling")
    finally:
        guider.oom_splitter = None


def run_ksampler(model, positive, negative, latent_image, *, steps: int, cfg: float, **options) -> dict:
    """KSampler's sampling on the model (see `run_on_model`)."""
    guider = CFGGuider(model)

    def attempt(progress) -> dict:
        def callback(step: int, total: int, x0) -> None:
            progress(step - 1, x0, None, total)

        return sample(model, positive, negative, latent_image, steps=steps, cfg=cfg, callback=callback,
                      guider=guider, **options)

    return run_on_model(guider, steps=steps, attempt=attempt)


class KSampler:
    CATEGORY = "sampling"
    RETURN_TYPES = ("LATENT",)
    OUTPUT_TOOLTIPS = ("Denoised latent.",)
    FUNCTION = "sample"
    DESCRIPTION = "Denoises a latent with the model, guided by the positive and negative prompts."

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {**_common_inputs("seed"), "denoise": ("FLOAT", _tip(
            "Fraction of the schedule to run: 1 for text-to-image, lower keeps more of the "
            "input latent.", default=1.0, min=0.0, max=1.0, step=0.01))}}

    def sample(self, model, seed, steps, cfg, sampler_name, scheduler, positive, negative,
               latent_image, denoise=1.0):
        return (run_ksampler(model, positive, negative, latent_image, steps=steps, cfg=cfg, seed=seed,
                             sampler_name=sampler_name, scheduler=scheduler, denoise=denoise),)


class KSamplerAdvanced:
    CATEGORY = "sampling"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"

    @classmethod
    def INPUT_TYPES(cls):
        common = _common_inputs("noise_seed")
        return {"required": {
            "model": common.pop("model"), "add_noise": (["enable", "disable"],), **common,
            "start_at_step": ("INT", {"default": 0, "min": 0, "max": 10000}),
            "end_at_step": ("INT", {"default": 10000, "min": 0, "max": 10000}),
            "return_with_leftover_noise": (["disable", "enable"],)}}

    def sample(self, model, add_noise, noise_seed, steps, cfg, sampler_name, scheduler, positive,
               negative, latent_image, start_at_step, end_at_step, return_with_leftover_noise,
               denoise=1.0):
        return (run_ksampler(
            model, positive, negative, latent_image, steps=steps, cfg=cfg, seed=noise_seed,
            sampler_name=sampler_name, scheduler=scheduler, denoise=denoise,
            start_step=start_at_step, last_step=end_at_step,
            force_full_denoise=return_with_leftover_noise != "enable",
            add_noise=add_noise != "disable"),)


NODE_CLASS_MAPPINGS = {"KSampler": KSampler, "KSamplerAdvanced": KSamplerAdvanced}
NODE_DISPLAY_NAME_MAPPINGS = {"KSampler": "KSampler", "KSamplerAdvanced": "KSampler (Advanced)"}
