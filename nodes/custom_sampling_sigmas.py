"""Sigma tool nodes of custom sampling: split, flip, set, extend and type in SIGMAS values,
and read a model's σ at a point of the sampling process."""

from __future__ import annotations

from comfy_core.registry.v3 import io
from comfy_core.sampling import sigma_tools
from comfy_core.sampling.model_call import model_sampling_of

CUSTOM_SAMPLER = "comfy_extras.nodes_custom_sampler"
CATEGORY = "sampling/custom_sampling/sigmas"


def _halves() -> list[io.Sigmas.Output]:
    return [io.Sigmas.Output(display_name="high_sigmas"), io.Sigmas.Output(display_name="low_sigmas")]


class SplitSigmas(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="SplitSigmas", category=CATEGORY, outputs=_halves(), inputs=[
            io.Sigmas.Input("sigmas"), io.Int.Input("step", default=0, min=0, max=10000)])

    @classmethod
    def execute(cls, sigmas, step):
        return io.NodeOutput(*sigma_tools.split(sigmas, step))

    get_sigmas = execute


class SplitSigmasDenoise(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="SplitSigmasDenoise", category=CATEGORY, outputs=_halves(), inputs=[
            io.Sigmas.Input("sigmas"), io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01)])

    @classmethod
    def execute(cls, sigmas, denoise):
        return io.NodeOutput(*sigma_tools.split_denoise(sigmas, denoise))

    get_sigmas = execute


class FlipSigmas(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="FlipSigmas", category=CATEGORY, inputs=[io.Sigmas.Input("sigmas")],
                         outputs=[io.Sigmas.Output()])

    @classmethod
    def execute(cls, sigmas):
        return io.NodeOutput(sigma_tools.flip(sigmas))

    get_sigmas = execute


class SetFirstSigma(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="SetFirstSigma", category=CATEGORY, outputs=[io.Sigmas.Output()], inputs=[
            io.Sigmas.Input("sigmas"),
            io.Float.Input("sigma", default=136.0, min=0.0, max=20000.0, step=0.001, round=False)])

    @classmethod
    def execute(cls, sigmas, sigma):
        return io.NodeOutput(sigma_tools.set_first(sigmas, sigma))

    set_first_sigma = execute


class ExtendIntermediateSigmas(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ExtendIntermediateSigmas", category=CATEGORY, outputs=[io.Sigmas.Output()],
                         inputs=[io.Sigmas.Input("sigmas"), io.Int.Input("steps", default=2, min=1, max=100),
                                 io.Float.Input("start_at_sigma", default=-1.0, min=-1.0, max=20000.0, step=0.01,
                                                round=False),
                                 io.Float.Input("end_at_sigma", default=12.0, min=0.0, max=20000.0, step=0.01,
                                                round=False),
                                 io.Combo.Input("spacing", options=list(sigma_tools.SPACINGS))])

    @classmethod
    def execute(cls, sigmas, steps, start_at_sigma, end_at_sigma, spacing):
        return io.NodeOutput(sigma_tools.extend_intermediate(sigmas, steps, start_at_sigma, end_at_sigma, spacing))

    extend = execute


class SamplingPercentToSigma(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="SamplingPercentToSigma", category=CATEGORY, inputs=[
            io.Model.Input("model"),
            io.Float.Input("sampling_percent", default=0.0, min=0.0, max=1.0, step=0.0001),
            io.Boolean.Input("return_actual_sigma", default=False, tooltip=(
                "Return the model's own σ_max at 0 and σ_min at 1 instead of the values timestep "
                "ranges compare against (only 0.0 and 1.0 differ)."))],
            outputs=[io.Float.Output(display_name="sigma_value")])

    @classmethod
    def execute(cls, model, sampling_percent, return_actual_sigma):
        ms = model_sampling_of(model)
        sigma = ms.percent_to_sigma(sampling_percent)
        if return_actual_sigma and sampling_percent == 0.0:
            sigma = float(ms.sigma_max)
        elif return_actual_sigma and sampling_percent == 1.0:
            sigma = float(ms.sigma_min)
        return io.NodeOutput(sigma)

    get_sigma = execute


class ManualSigmas(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="ManualSigmas", category="_for_testing/custom_sampling", is_experimental=True,
                         inputs=[io.String.Input("sigmas", default="1, 0.5", multiline=False)],
                         outputs=[io.Sigmas.Output()])

    @classmethod
    def execute(cls, sigmas):
        return io.NodeOutput(sigma_tools.parse(sigmas))


NODES = (SplitSigmas, SplitSigmasDenoise, FlipSigmas, SetFirstSigma, ExtendIntermediateSigmas,
         SamplingPercentToSigma, ManualSigmas)
NODE_CLASS_MAPPINGS = {node.__name__: node for node in NODES}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
