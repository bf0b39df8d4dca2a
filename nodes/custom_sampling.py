"""Custom sampling: SamplerCustom (a MODEL, conditioning and cfg with a SAMPLER and SIGMAS
of the user's choice), SamplerCustomAdvanced (NOISE, GUIDER, SAMPLER, SIGMAS), the guiders
and the NOISE sources. The values follow ComfyUI's protocols so plugin nodes can make and
take them (COMPAT-PLUGINS 3.3, 6.4): NOISE has `seed` and `generate_noise(latent)`, SAMPLER
is `sampler_value.SamplerValue`, GUIDER is `guider.CFGGuider` (ComfyUI's) and its subclasses."""

from __future__ import annotations

import torch

from comfy_core.registry.v3 import io
from comfy_core.sampling import guiders
from comfy_core.sampling.custom import run_guider
from comfy_core.sampling.guider import CFGGuider as CFGGuiderValue
from comfy_core.sampling.model_call import model_sampling_of
from comfy_core.sampling.noise import RandomNoise as RandomNoiseValue
from comfy_core.sampling.noise import ZeroNoise
from nodes.sampling import run_on_model

CUSTOM_SAMPLER = "comfy_extras.nodes_custom_sampler"
SEED = dict(default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True)
CFG = dict(default=8.0, min=0.0, max=100.0, step=0.1, round=0.01)


def sample_with(guider, latent_image: dict, *, noise, sampler, sigmas) -> tuple:
    """(output, denoised_output) of the GUIDER sampling `latent_image` with this NOISE, SAMPLER
    and SIGMAS on its model (progress, previews, interrupts and OOM recovery as KSampler)."""
    steps = max(int(sigmas.shape[-1]) - 1, 1)

    def attempt(progress) -> tuple:
        return run_guider(guider, latent_image, noise=noise, sampler=sampler, sigmas=sigmas, callback=progress)

    return run_on_model(guider, steps=steps, attempt=attempt)


class SamplerCustom(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="SamplerCustom", category="sampling/custom_sampling", inputs=[
            io.Model.Input("model"), io.Boolean.Input("add_noise", default=True),
            io.Int.Input("noise_seed", **SEED), io.Float.Input("cfg", **CFG),
            io.Conditioning.Input("positive"), io.Conditioning.Input("negative"),
            io.Sampler.Input("sampler"), io.Sigmas.Input("sigmas"), io.Latent.Input("latent_image")],
            outputs=[io.Latent.Output(display_name="output"), io.Latent.Output(display_name="denoised_output")])

    @classmethod
    def execute(cls, model, add_noise, noise_seed, cfg, positive, negative, sampler, sigmas, latent_image):
        guider = CFGGuiderValue(model)
        guider.set_conds(positive, negative)
        guider.set_cfg(cfg)
        noise = RandomNoiseValue(noise_seed) if add_noise else ZeroNoise()
        return io.NodeOutput(*sample_with(guider, latent_image, noise=noise, sampler=sampler, sigmas=sigmas))

    sample = execute


class SamplerCustomAdvanced(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="SamplerCustomAdvanced", category="sampling/custom_sampling", inputs=[
            io.Noise.Input("noise"), io.Guider.Input("guider"), io.Sampler.Input("sampler"),
            io.Sigmas.Input("sigmas"), io.Latent.Input("latent_image")],
            outputs=[io.Latent.Output(display_name="output"), io.Latent.Output(display_name="denoised_output")])

    @classmethod
    def execute(cls, noise, guider, sampler, sigmas, latent_image):
        return io.NodeOutput(*sample_with(guider, latent_image, noise=noise, sampler=sampler, sigmas=sigmas))

    sample = execute


def _guider_schema(node_id: str, inputs: list, category: str = "sampling/custom_sampling/guiders",
                   experimental: bool = False) -> io.Schema:
    return io.Schema(node_id=node_id, category=category, inputs=[io.Model.Input("model"), *inputs],
                     outputs=[io.Guider.Output()], is_experimental=experimental)


class CFGGuider(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return _guider_schema("CFGGuider", [io.Conditioning.Input("positive"), io.Conditioning.Input("negative"),
                                            io.Float.Input("cfg", **CFG)])

    @classmethod
    def execute(cls, model, positive, negative, cfg):
        guider = CFGGuiderValue(model)
        guider.set_conds(positive, negative)
        guider.set_cfg(cfg)
        return io.NodeOutput(guider)

    get_guider = execute


class DualCFGGuider(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return _guider_schema("DualCFGGuider", [
            io.Conditioning.Input("cond1"), io.Conditioning.Input("cond2"), io.Conditioning.Input("negative"),
            io.Float.Input("cfg_conds", **CFG), io.Float.Input("cfg_cond2_negative", **CFG),
            io.Combo.Input("style", options=["regular", "nested"])])

    @classmethod
    def execute(cls, model, cond1, cond2, negative, cfg_conds, cfg_cond2_negative, style):
        guider = guiders.DualCFGGuider(model)
        guider.set_conds(cond1, cond2, negative)
        guider.set_cfg(cfg_conds, cfg_cond2_negative, nested=style == "nested")
        return io.NodeOutput(guider)

    get_guider = execute


class BasicGuider(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return _guider_schema("BasicGuider", [io.Conditioning.Input("conditioning")])

    @classmethod
    def execute(cls, model, conditioning):
        guider = guiders.BasicGuider(model)
        guider.set_conds(conditioning)
        return io.NodeOutput(guider)

    get_guider = execute


class PerpNegGuider(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_perpneg"

    @classmethod
    def define_schema(cls):
        return _guider_schema("PerpNegGuider", [
            io.Conditioning.Input("positive"), io.Conditioning.Input("negative"),
            io.Conditioning.Input("empty_conditioning"), io.Float.Input("cfg", **CFG),
            io.Float.Input("neg_scale", default=1.0, min=0.0, max=100.0, step=0.01)],
            category="_for_testing", experimental=True)

    @classmethod
    def execute(cls, model, positive, negative, empty_conditioning, cfg, neg_scale):
        guider = guiders.PerpNegGuider(model)
        guider.set_conds(positive, negative, empty_conditioning)
        guider.set_cfg(cfg, neg_scale)
        return io.NodeOutput(guider)


class RandomNoise(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="RandomNoise", category="sampling/custom_sampling/noise",
                         inputs=[io.Int.Input("noise_seed", **SEED)], outputs=[io.Noise.Output()])

    @classmethod
    def execute(cls, noise_seed):
        return io.NodeOutput(RandomNoiseValue(noise_seed))

    get_noise = execute


class DisableNoise(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="DisableNoise", category="sampling/custom_sampling/noise", inputs=[],
                         outputs=[io.Noise.Output()])

    @classmethod
    def execute(cls):
        return io.NodeOutput(ZeroNoise())

    get_noise = execute


class AddNoise(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="AddNoise", category="_for_testing/custom_sampling/noise", is_experimental=True,
                         inputs=[io.Model.Input("model"), io.Noise.Input("noise"), io.Sigmas.Input("sigmas"),
                                 io.Latent.Input("latent_image")],
                         outputs=[io.Latent.Output()])

    @classmethod
    def execute(cls, model, noise, sigmas, latent_image):
        """The latent noised to the level the schedule spans (|σ_0 − σ_last|), no sampling."""
        if len(sigmas) == 0:
            return io.NodeOutput(latent_image)
        scale_factor = model.model.latent_format.scale_factor
        samples = latent_image["samples"]
        drawn = noise.generate_noise(latent_image)
        level = torch.abs(sigmas[0] - sigmas[-1]) if len(sigmas) > 1 else sigmas[0]
        if torch.count_nonzero(samples) > 0:  # an empty latent stays zero
            samples = samples * scale_factor
        noisy = model_sampling_of(model).noise_scaling(level, drawn, samples) / scale_factor
        out = dict(latent_image)
        out["samples"] = torch.nan_to_num(noisy, nan=0.0, posinf=0.0, neginf=0.0)
        return io.NodeOutput(out)

    add_noise = execute


NODES = (SamplerCustom, SamplerCustomAdvanced, CFGGuider, DualCFGGuider, BasicGuider, PerpNegGuider, RandomNoise,
         DisableNoise, AddNoise)
NODE_CLASS_MAPPINGS = {node.__name__: node for node in NODES}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
