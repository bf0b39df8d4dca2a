"""`comfy_extras.nodes_model_advanced`: ComfyUI's model sampling nodes (our built-in
classes) and the LCM pieces packs import from it (`LCM`, `ModelSamplingDiscreteDistilled`,
`rescale_zero_terminal_snr_sigmas`)."""

from comfy_extras._catalog import export
from comfy_core.sampling.model_sampling import ModelSamplingDiscreteDistilled  # noqa: F401
from comfy_core.sampling.model_sampling import rescale_zero_terminal_snr as rescale_zero_terminal_snr_sigmas  # noqa: F401
from comfy_core.sampling.predictions import LCM, X0  # noqa: F401

globals().update(export(__name__))
