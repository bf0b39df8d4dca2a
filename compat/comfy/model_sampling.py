"""`comfy.model_sampling`: ComfyUI's prediction mix-ins and schedule classes (COMPAT-PLUGINS
3.11), which packs combine and subclass (`class X(ModelSamplingDiscrete, EPS)`). Our
classes under ComfyUI's names; nothing of its own."""

from comfy_core.sampling.model_sampling import (  # noqa: F401
    ModelSamplingContinuousEDM,
    ModelSamplingContinuousV,
    ModelSamplingCosmosRFlow,
    ModelSamplingDiscrete,
    rescale_zero_terminal_snr as rescale_zero_terminal_snr_sigmas,
)
from comfy_core.sampling.predictions import (  # noqa: F401
    CONST,
    COSMOS_RFLOW,
    EDM,
    EPS,
    IMG_TO_IMG,
    V_PREDICTION,
    X0,
)
