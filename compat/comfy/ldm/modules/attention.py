"""`comfy.ldm.modules.attention` (COMPAT-PLUGINS 3.16): the attention functions and
transformer blocks of the SD UNet, from `comfy_core.models.attention`.

Every function has ComfyUI's signature `fn(q, k, v, heads, mask=None, attn_precision=None,
skip_reshape=False, skip_output_reshape=False, **kw)` and honours
`transformer_options["optimized_attention_override"]`. `optimized_attention` is torch's
fused kernel on every device (xformers, sage and flash attention are not provided; the
split and sub-quadratic variants are the same fused kernel, which already works in
memory-bounded chunks)."""

from comfy.ldm.modules._unsupported_blocks import SpatialVideoTransformer  # noqa: F401
from comfy.ldm.util import default, exists  # noqa: F401 (LDM code imports them from here)
from comfy_core.models.attention import (  # noqa: F401
    BasicTransformerBlock,
    CrossAttention,
    FeedForward,
    GEGLU,
    SpatialTransformer,
    attention_basic,
    attention_pytorch,
    optimized_attention,
    optimized_attention_for_device,
    optimized_attention_masked,
    wrap_attn,
)

attention_split = attention_pytorch
attention_sub_quad = attention_pytorch
