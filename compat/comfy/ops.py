"""`comfy.ops` (COMPAT-PLUGINS 3.14): the layer namespaces plugins build networks from and
subclass (`disable_weight_init`, `manual_cast`, with nested `Linear`, `Conv2d`, ...), and
the per-layer cast helpers, from `comfy_core.models.ops`. A class of these passed as
`model_options["custom_operations"]` to `comfy.sd.load_diffusion_model_state_dict` builds
the UNet's layers."""

from comfy_core.models.ops import (  # noqa: F401
    CastWeightBiasOp,
    cast_bias_weight,
    cast_to,
    disable_weight_init,
    manual_cast,
    pick_operations,
    uncast_bias_weight,
)
