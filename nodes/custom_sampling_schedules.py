"""Scheduler nodes of custom sampling: each returns a SIGMAS value (1-D float tensor)."""

from __future__ import annotations

import torch

from comfy_core.registry.v3 import io
from comfy_core.sampling import schedules, schedules_published
from comfy_core.sampling.model_call import model_sampling_of

CUSTOM_SAMPLER = "comfy_extras.nodes_custom_sampler"
CATEGORY = "sampling/custom_sampling/schedulers"
SIGMA_MAX, SIGMA_MIN = 14.614642, 0.0291675  # SD1's σ range, the nodes' defaults


def _steps(default: int = 20, low: int = 1, high: int = 10000) -> io.Int.Input:
    return io.Int.Input("steps", default=default, min=low, max=high)


def _denoise() -> io.Float.Input:
    return io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01)


def _free(name: str, default: float, low: float = 0.0, high: float = 5000.0, step: float = 0.01) -> io.Float.Input:
    return io.Float.Input(name, default=default, min=low, max=high, step=step, round=False)


def _range() -> list[io.Float.Input]:
    return [_free("sigma_max", SIGMA_MAX), _free("sigma_min", SIGMA_MIN)]


class _Scheduler(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id=cls.__name__, category=CATEGORY, inputs=cls.schema_inputs(),
                         outputs=[io.Sigmas.Output()])

    @classmethod
    def schema_inputs(cls) -> list:
        raise NotImplementedError


class BasicScheduler(_Scheduler):
    @classmethod
    def schema_inputs(cls):
        return [io.Model.Input("model"), io.Combo.Input("scheduler", options=list(schedules.SCHEDULER_NAMES)),
                _steps(), _denoise()]

    @classmethod
    def execute(cls, model, scheduler, steps, denoise):
        """The named schedule; below denoise 1 the tail of a longer one (as KSampler)."""
        total = steps
        if denoise < 1.0:
            if denoise <= 0.0:
                return io.NodeOutput(torch.FloatTensor([]))
            total = int(steps / denoise)
        sigmas = schedules.calculate_sigmas(model_sampling_of(model), scheduler, total).cpu()
        return io.NodeOutput(sigmas[-(steps + 1):])

    get_sigmas = execute  # ComfyUI's method name, which plugins call


class KarrasScheduler(_Scheduler):
    @classmethod
    def schema_inputs(cls):
        return [_steps(), *_range(), _free("rho", 7.0, high=100.0)]

    @classmethod
    def execute(cls, steps, sigma_max, sigma_min, rho):
        return io.NodeOutput(schedules.karras(steps, sigma_min, sigma_max, rho))

    get_sigmas = execute  # ComfyUI's method name, which plugins call


class ExponentialScheduler(_Scheduler):
    @classmethod
    def schema_inputs(cls):
        return [_steps(), *_range()]

    @classmethod
    def execute(cls, steps, sigma_max, sigma_min):
        return io.NodeOutput(schedules.exponential(steps, sigma_min, sigma_max))

    get_sigmas = execute  # ComfyUI's method name, which plugins call


class PolyexponentialScheduler(_Scheduler):
    @classmethod
    def schema_inputs(cls):
        return [_steps(), *_range(), _free("rho", 1.0, high=100.0)]

    @classmethod
    def execute(cls, steps, sigma_max, sigma_min, rho):
        return io.NodeOutput(schedules.polyexponential(steps, sigma_min, sigma_max, rho))

    get_sigmas = execute  # ComfyUI's method name, which plugins call


class LaplaceScheduler(_Scheduler):
    @classmethod
    def schema_inputs(cls):
        return [_steps(), *_range(), _free("mu", 0.0, low=-10.0, high=10.0, step=0.1),
                _free("beta", 0.5, high=10.0, step=0.1)]

    @classmethod
    def execute(cls, steps, sigma_max, sigma_min, mu, beta):
        return io.NodeOutput(schedules.laplace(steps, sigma_min, sigma_max, mu, beta))

    get_sigmas = execute  # ComfyUI's method name, which plugins call


class VPScheduler(_Scheduler):
    @classmethod
    def schema_inputs(cls):
        return [_steps(), _free("beta_d", 19.9), _free("beta_min", 0.1),
                _free("eps_s", 0.001, high=1.0, step=0.0001)]

    @classmethod
    def execute(cls, steps, beta_d, beta_min, eps_s):
        return io.NodeOutput(schedules.vp(steps, beta_d, beta_min, eps_s))

    get_sigmas = execute  # ComfyUI's method name, which plugins call


class BetaSamplingScheduler(_Scheduler):
    @classmethod
    def schema_inputs(cls):
        return [io.Model.Input("model"), _steps(), _free("alpha", 0.6, high=50.0), _free("beta", 0.6, high=50.0)]

    @classmethod
    def execute(cls, model, steps, alpha, beta):
        return io.NodeOutput(schedules.sigmas_beta(model_sampling_of(model), steps, alpha=alpha, beta=beta))

    get_sigmas = execute  # ComfyUI's method name, which plugins call


class SDTurboScheduler(_Scheduler):
    @classmethod
    def schema_inputs(cls):
        return [io.Model.Input("model"), _steps(default=1, high=10),
                io.Float.Input("denoise", default=1.0, min=0, max=1.0, step=0.01)]

    @classmethod
    def execute(cls, model, steps, denoise):
        return io.NodeOutput(schedules_published.sd_turbo(model_sampling_of(model), steps, denoise))

    get_sigmas = execute  # ComfyUI's method name, which plugins call


class AlignYourStepsScheduler(_Scheduler):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_align_your_steps"

    @classmethod
    def schema_inputs(cls):
        return [io.Combo.Input("model_type", options=list(schedules_published.AYS_NOISE_LEVELS)),
                _steps(default=10), _denoise()]

    @classmethod
    def execute(cls, model_type, steps, denoise):
        return io.NodeOutput(schedules_published.align_your_steps(model_type, steps, denoise))

    def get_sigmas(self, model_type, steps, denoise):
        """The classic method some plugins still call (ComfyUI keeps it, deprecated)."""
        return type(self).execute(model_type, steps, denoise).result


class GITSScheduler(_Scheduler):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_gits"

    @classmethod
    def schema_inputs(cls):
        return [io.Float.Input("coeff", default=1.20, min=0.80, max=1.50, step=0.05),
                _steps(default=10, low=2, high=1000), _denoise()]

    @classmethod
    def execute(cls, coeff, steps, denoise):
        return io.NodeOutput(schedules_published.gits(coeff, steps, denoise))


NODES = (BasicScheduler, KarrasScheduler, ExponentialScheduler, PolyexponentialScheduler, LaplaceScheduler,
         VPScheduler, BetaSamplingScheduler, SDTurboScheduler, AlignYourStepsScheduler, GITSScheduler)
NODE_CLASS_MAPPINGS = {node.__name__: node for node in NODES}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
