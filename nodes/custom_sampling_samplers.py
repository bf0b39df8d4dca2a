"""Sampler nodes of custom sampling: each returns a SAMPLER value (ComfyUI's KSAMPLER
protocol, `comfy_core.sampling.sampler_value`) for a built-in sampler with its options."""

from __future__ import annotations

from comfy_core.registry.v3 import io
from comfy_core.sampling import samplers_extra
from comfy_core.sampling.model_call import model_sampling_of
from comfy_core.sampling.sampler_value import SamplerValue
from comfy_core.sampling.samplers import SAMPLER_NAMES
from comfy_core.sampling.samplers_sa_solver import tau_interval

CUSTOM_SAMPLER = "comfy_extras.nodes_custom_sampler"
ADVANCED_SAMPLERS = "comfy_extras.nodes_advanced_samplers"
CATEGORY = "sampling/custom_sampling/samplers"
NOISE_DEVICES = ["gpu", "cpu"]  # the Brownian tree of the SDE samplers: on the model's device or the CPU


def _free(name: str, default: float, high: float = 100.0, tooltip: str | None = None) -> io.Float.Input:
    return io.Float.Input(name, default=default, min=0.0, max=high, step=0.01, round=False, tooltip=tooltip)


def _eta_noise(eta_max: float = 100.0, noise_max: float = 100.0) -> list[io.Float.Input]:
    return [_free("eta", 1.0, eta_max), _free("s_noise", 1.0, noise_max)]


def _device_variant(name: str, noise_device: str) -> str:
    """The sampler name for the chosen Brownian-tree device ("gpu" is the `_gpu` variant)."""
    if noise_device not in NOISE_DEVICES:
        raise ValueError(f"noise_device must be one of {NOISE_DEVICES}, got {noise_device!r}")
    return name if noise_device == "cpu" else f"{name}_gpu"


class _SamplerNode(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = CUSTOM_SAMPLER
    DISPLAY_NAME: str | None = None
    CATEGORY_NAME = CATEGORY

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id=cls.__name__, display_name=cls.DISPLAY_NAME, category=cls.CATEGORY_NAME,
                         inputs=cls.schema_inputs(), outputs=[io.Sampler.Output()])

    @classmethod
    def schema_inputs(cls) -> list:
        raise NotImplementedError


class KSamplerSelect(_SamplerNode):
    @classmethod
    def schema_inputs(cls):
        return [io.Combo.Input("sampler_name", options=list(SAMPLER_NAMES))]

    @classmethod
    def execute(cls, sampler_name):
        return io.NodeOutput(SamplerValue.builtin(sampler_name))

    get_sampler = execute


class SamplerEulerAncestral(_SamplerNode):
    @classmethod
    def schema_inputs(cls):
        return _eta_noise()

    @classmethod
    def execute(cls, eta, s_noise):
        return io.NodeOutput(SamplerValue.builtin("euler_ancestral", {"eta": eta, "s_noise": s_noise}))

    get_sampler = execute


class SamplerEulerAncestralCFGPP(_SamplerNode):
    DISPLAY_NAME = "SamplerEulerAncestralCFG++"

    @classmethod
    def schema_inputs(cls):
        return _eta_noise(eta_max=1.0, noise_max=10.0)

    @classmethod
    def execute(cls, eta, s_noise):
        return io.NodeOutput(SamplerValue.builtin("euler_ancestral_cfg_pp", {"eta": eta, "s_noise": s_noise}))

    get_sampler = execute


class SamplerLMS(_SamplerNode):
    @classmethod
    def schema_inputs(cls):
        return [io.Int.Input("order", default=4, min=1, max=100)]

    @classmethod
    def execute(cls, order):
        return io.NodeOutput(SamplerValue.builtin("lms", {"order": order}))

    get_sampler = execute


class SamplerDPMPP_3M_SDE(_SamplerNode):  # noqa: N801 - ComfyUI's node id
    @classmethod
    def schema_inputs(cls):
        return [*_eta_noise(), io.Combo.Input("noise_device", options=NOISE_DEVICES)]

    @classmethod
    def execute(cls, eta, s_noise, noise_device):
        name = _device_variant("dpmpp_3m_sde", noise_device)
        return io.NodeOutput(SamplerValue.builtin(name, {"eta": eta, "s_noise": s_noise}))

    get_sampler = execute


class SamplerDPMPP_2M_SDE(_SamplerNode):  # noqa: N801 - ComfyUI's node id
    @classmethod
    def schema_inputs(cls):
        return [io.Combo.Input("solver_type", options=["midpoint", "heun"]), *_eta_noise(),
                io.Combo.Input("noise_device", options=NOISE_DEVICES)]

    @classmethod
    def execute(cls, solver_type, eta, s_noise, noise_device):
        name = _device_variant("dpmpp_2m_sde", noise_device)
        return io.NodeOutput(SamplerValue.builtin(name, {"eta": eta, "s_noise": s_noise, "solver_type": solver_type}))

    get_sampler = execute


class SamplerDPMPP_SDE(_SamplerNode):  # noqa: N801 - ComfyUI's node id
    @classmethod
    def schema_inputs(cls):
        return [*_eta_noise(), _free("r", 0.5), io.Combo.Input("noise_device", options=NOISE_DEVICES)]

    @classmethod
    def execute(cls, eta, s_noise, r, noise_device):
        name = _device_variant("dpmpp_sde", noise_device)
        return io.NodeOutput(SamplerValue.builtin(name, {"eta": eta, "s_noise": s_noise, "r": r}))

    get_sampler = execute


class SamplerDPMPP_2S_Ancestral(_SamplerNode):  # noqa: N801 - ComfyUI's node id
    @classmethod
    def schema_inputs(cls):
        return _eta_noise()

    @classmethod
    def execute(cls, eta, s_noise):
        return io.NodeOutput(SamplerValue.builtin("dpmpp_2s_ancestral", {"eta": eta, "s_noise": s_noise}))

    get_sampler = execute


class SamplerDPMAdaptative(_SamplerNode):
    @classmethod
    def schema_inputs(cls):
        return [io.Int.Input("order", default=3, min=2, max=3), _free("rtol", 0.05), _free("atol", 0.0078),
                _free("h_init", 0.05), _free("pcoeff", 0.0), _free("icoeff", 1.0), _free("dcoeff", 0.0),
                _free("accept_safety", 0.81), _free("eta", 0.0), _free("s_noise", 1.0)]

    @classmethod
    def execute(cls, order, rtol, atol, h_init, pcoeff, icoeff, dcoeff, accept_safety, eta, s_noise):
        options = {"order": order, "rtol": rtol, "atol": atol, "h_init": h_init, "pcoeff": pcoeff, "icoeff": icoeff,
                   "dcoeff": dcoeff, "accept_safety": accept_safety, "eta": eta, "s_noise": s_noise}
        return io.NodeOutput(SamplerValue.builtin("dpm_adaptive", options))

    get_sampler = execute


ER_SDE_TYPES = ["ER-SDE", "Reverse-time SDE", "ODE"]


class SamplerER_SDE(_SamplerNode):  # noqa: N801 - ComfyUI's node id
    @classmethod
    def schema_inputs(cls):
        return [io.Combo.Input("solver_type", options=ER_SDE_TYPES), io.Int.Input("max_stage", default=3, min=1, max=3),
                _free("eta", 1.0, tooltip="Stochastic strength of the reverse-time SDE; 0 gives the ODE. "
                                          "Not used by the ER-SDE type."),
                _free("s_noise", 1.0)]

    @classmethod
    def execute(cls, solver_type, max_stage, eta, s_noise):
        """ER-SDE's own noise scale; the reverse-time SDE's λ^(η+1); the ODE's λ (no noise)."""
        if solver_type not in ER_SDE_TYPES:
            raise ValueError(f"solver_type must be one of {ER_SDE_TYPES}, got {solver_type!r}")
        if solver_type == "ODE" or (solver_type == "Reverse-time SDE" and eta == 0):
            eta, s_noise = 0, 0
        scaler = None if solver_type == "ER-SDE" else (lambda lam: lam ** (eta + 1))
        options = {"s_noise": s_noise, "noise_scaler": scaler, "max_stage": max_stage}
        return io.NodeOutput(SamplerValue.builtin("er_sde", options))

    get_sampler = execute


class SamplerSASolver(_SamplerNode):
    @classmethod
    def schema_inputs(cls):
        percent = dict(min=0.0, max=1.0, step=0.001)
        return [io.Model.Input("model"), _free("eta", 1.0, high=10.0),
                io.Float.Input("sde_start_percent", default=0.2, **percent),
                io.Float.Input("sde_end_percent", default=0.8, **percent), _free("s_noise", 1.0),
                io.Int.Input("predictor_order", default=3, min=1, max=6),
                io.Int.Input("corrector_order", default=4, min=0, max=6),
                io.Boolean.Input("use_pece"), io.Boolean.Input("simple_order_2")]

    @classmethod
    def execute(cls, model, eta, sde_start_percent, sde_end_percent, s_noise, predictor_order, corrector_order,
                use_pece, simple_order_2):
        """The SDE window from sampling percentages to the model's σ."""
        ms = model_sampling_of(model)
        tau = tau_interval(ms.percent_to_sigma(sde_start_percent), ms.percent_to_sigma(sde_end_percent), eta=eta)
        options = {"tau_func": tau, "s_noise": s_noise, "predictor_order": predictor_order,
                   "corrector_order": corrector_order, "use_pece": use_pece, "simple_order_2": simple_order_2}
        return io.NodeOutput(SamplerValue.builtin("sa_solver", options))

    get_sampler = execute


class SamplerSEEDS2(_SamplerNode):
    @classmethod
    def define_schema(cls):
        schema = super().define_schema()
        schema.description = ("One node for three samplers: seeds_2 (the defaults), exp_heun_2_x0 (phi_2, "
                              "r = 1, eta = 0) and exp_heun_2_x0_sde (phi_2, r = 1, eta = 1, s_noise = 1).")
        return schema

    @classmethod
    def schema_inputs(cls):
        return [io.Combo.Input("solver_type", options=["phi_1", "phi_2"]),
                _free("eta", 1.0, tooltip="Stochastic strength"), _free("s_noise", 1.0, tooltip="SDE noise multiplier"),
                io.Float.Input("r", default=0.5, min=0.01, max=1.0, step=0.01, round=False,
                               tooltip="Where the intermediate stage sits, as a fraction of the step")]

    @classmethod
    def execute(cls, solver_type, eta, s_noise, r):
        options = {"eta": eta, "s_noise": s_noise, "r": r, "solver_type": solver_type}
        return io.NodeOutput(SamplerValue.builtin("seeds_2", options))


class SamplerLCMUpscale(_SamplerNode):
    RELATIVE_PYTHON_MODULE = ADVANCED_SAMPLERS

    @classmethod
    def schema_inputs(cls):
        return [io.Float.Input("scale_ratio", default=1.0, min=0.1, max=20.0, step=0.01),
                io.Int.Input("scale_steps", default=-1, min=-1, max=1000, step=1),
                io.Combo.Input("upscale_method", options=list(samplers_extra.UPSCALE_METHODS))]

    @classmethod
    def execute(cls, scale_ratio, scale_steps, upscale_method):
        options = {"total_upscale": scale_ratio, "upscale_method": upscale_method,
                   "upscale_steps": None if scale_steps < 0 else scale_steps}
        return io.NodeOutput(SamplerValue.of(samplers_extra.sample_lcm_upscale, options))


class SamplerEulerCFGpp(_SamplerNode):
    RELATIVE_PYTHON_MODULE = ADVANCED_SAMPLERS
    DISPLAY_NAME = "SamplerEulerCFG++"
    CATEGORY_NAME = "_for_testing"

    @classmethod
    def define_schema(cls):
        schema = super().define_schema()
        schema.is_experimental = True
        return schema

    @classmethod
    def schema_inputs(cls):
        return [io.Combo.Input("version", options=["regular", "alternative"])]

    @classmethod
    def execute(cls, version):
        if version == "alternative":
            return io.NodeOutput(SamplerValue.of(samplers_extra.sample_euler_cfg_pp_alternative))
        return io.NodeOutput(SamplerValue.builtin("euler_cfg_pp"))


NODES = (KSamplerSelect, SamplerEulerAncestral, SamplerEulerAncestralCFGPP, SamplerLMS, SamplerDPMPP_3M_SDE,
         SamplerDPMPP_2M_SDE, SamplerDPMPP_SDE, SamplerDPMPP_2S_Ancestral, SamplerDPMAdaptative, SamplerER_SDE,
         SamplerSASolver, SamplerSEEDS2, SamplerLCMUpscale, SamplerEulerCFGpp)
NODE_CLASS_MAPPINGS = {node.__name__: node for node in NODES}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
