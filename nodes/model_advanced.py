"""Model sampling overrides and CFG rescale (ComfyUI's comfy_extras.nodes_model_advanced):
each clones the MODEL and object-patches its `model_sampling` (and `latent_format`) or adds
a cfg function; nothing else of the model changes."""

from __future__ import annotations

from typing import Any

import torch

from comfy_core.model_patches.guidance import make_rescale_cfg
from comfy_core.models.latent_formats import SDXL_Playground_2_5
from comfy_core.sampling import model_sampling as ms
from comfy_core.sampling import predictions as pred

MODULE = "comfy_extras.nodes_model_advanced"

# sampling choice -> (schedule class, prediction mix-in)
DISCRETE = {
    "eps": (ms.ModelSamplingDiscrete, pred.EPS),
    "v_prediction": (ms.ModelSamplingDiscrete, pred.V_PREDICTION),
    "lcm": (ms.ModelSamplingDiscreteDistilled, pred.LCM),
    "x0": (ms.ModelSamplingDiscrete, pred.X0),
    "img_to_img": (ms.ModelSamplingDiscrete, pred.IMG_TO_IMG),
}
# sampling choice -> (schedule class, prediction mix-in, σ_data, latent format or None)
CONTINUOUS_EDM = {
    "v_prediction": (ms.ModelSamplingContinuousEDM, pred.V_PREDICTION, 1.0, None),
    "edm": (ms.ModelSamplingContinuousEDM, pred.EDM, 0.5, None),
    "edm_playground_v2.5": (ms.ModelSamplingContinuousEDM, pred.EDM, 0.5, SDXL_Playground_2_5),
    "eps": (ms.ModelSamplingContinuousEDM, pred.EPS, 1.0, None),
    "cosmos_rflow": (ms.ModelSamplingCosmosRFlow, pred.COSMOS_RFLOW, 1.0, None),
}
DTYPES: dict[str, torch.dtype | None] = {"default": None, "fp32": torch.float32, "fp16": torch.float16,
                                         "bf16": torch.bfloat16}


def combined(schedule: type, prediction: type) -> type:
    """The model sampling class of a schedule and a prediction (ComfyUI's
    `class ModelSamplingAdvanced(schedule, prediction)`)."""
    return type("ModelSamplingAdvanced", (schedule, prediction), {})


def _sigma_range(default_max: float, default_min: float) -> dict:
    opts = {"min": 0.0, "max": 1000.0, "step": 0.001, "round": False}
    return {"sigma_max": ("FLOAT", {"default": default_max, **opts}),
            "sigma_min": ("FLOAT", {"default": default_min, **opts})}


class ModelSamplingDiscrete:
    RELATIVE_PYTHON_MODULE = MODULE
    CATEGORY = "advanced/model"
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"model": ("MODEL",), "sampling": (list(DISCRETE),),
                             "zsnr": ("BOOLEAN", {"default": False})}}

    def patch(self, model: Any, sampling: str, zsnr: bool) -> tuple:
        m = model.clone()
        m.add_object_patch("model_sampling", combined(*DISCRETE[sampling])(model.model.model_config, zsnr=zsnr))
        return (m,)


def _continuous(model: Any, schedule: type, prediction: type, sigma_min: float, sigma_max: float,
                sigma_data: float) -> Any:
    m = model.clone()
    sampling = combined(schedule, prediction)(model.model.model_config)
    sampling.set_parameters(sigma_min, sigma_max, sigma_data)
    m.add_object_patch("model_sampling", sampling)
    return m


class ModelSamplingContinuousEDM:
    RELATIVE_PYTHON_MODULE = MODULE
    CATEGORY = "advanced/model"
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"model": ("MODEL",), "sampling": (list(CONTINUOUS_EDM),), **_sigma_range(120.0, 0.002)}}

    def patch(self, model: Any, sampling: str, sigma_max: float, sigma_min: float) -> tuple:
        schedule, prediction, sigma_data, latent_format = CONTINUOUS_EDM[sampling]
        m = _continuous(model, schedule, prediction, sigma_min, sigma_max, sigma_data)
        if latent_format is not None:
            m.add_object_patch("latent_format", latent_format())
        return (m,)


class ModelSamplingContinuousV:
    RELATIVE_PYTHON_MODULE = MODULE
    CATEGORY = "advanced/model"
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"model": ("MODEL",), "sampling": (["v_prediction"],), **_sigma_range(500.0, 0.03)}}

    def patch(self, model: Any, sampling: str, sigma_max: float, sigma_min: float) -> tuple:
        return (_continuous(model, ms.ModelSamplingContinuousV, pred.V_PREDICTION, sigma_min, sigma_max, 1.0),)


class RescaleCFG:
    RELATIVE_PYTHON_MODULE = MODULE
    CATEGORY = "advanced/model"
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"model": ("MODEL",),
                             "multiplier": ("FLOAT", {"default": 0.7, "min": 0.0, "max": 1.0, "step": 0.01})}}

    def patch(self, model: Any, multiplier: float) -> tuple:
        m = model.clone()
        m.set_model_sampler_cfg_function(make_rescale_cfg(multiplier))
        return (m,)


class ModelComputeDtype:
    RELATIVE_PYTHON_MODULE = MODULE
    CATEGORY = "advanced/debug/model"
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"model": ("MODEL",), "dtype": (list(DTYPES),)}}

    def patch(self, model: Any, dtype: str) -> tuple:
        m = model.clone()
        m.set_model_compute_dtype(DTYPES[dtype])
        return (m,)


NODES = (ModelSamplingDiscrete, ModelSamplingContinuousEDM, ModelSamplingContinuousV, RescaleCFG, ModelComputeDtype)
NODE_CLASS_MAPPINGS = {node.__name__: node for node in NODES}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
