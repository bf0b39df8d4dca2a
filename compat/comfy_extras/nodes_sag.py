"""`comfy_extras.nodes_sag`: the Self-Attention Guidance node (our built-in class) and the
helpers packs import from it (`gaussian_blur_2d`, `create_blur_map`,
`attention_basic_with_sim`)."""

from comfy_extras._catalog import export
from comfy_core.model_patches.attention_guidance import attention_with_scores as attention_basic_with_sim  # noqa: F401
from comfy_core.model_patches.attention_guidance import blur_attended as create_blur_map  # noqa: F401
from comfy_core.model_patches.attention_guidance import gaussian_blur_2d  # noqa: F401

globals().update(export(__name__))
