"""`comfy.weight_adapter`: the weight deltas that LoRA-style files load into
(COMPAT-PLUGINS 3.13), our adapters under ComfyUI's names. Each is a `WeightAdapterBase`
with `calculate_weight(weight, key, strength, strength_model, offset, function,
intermediate_dtype, original_weights)`, the patch protocol of `ModelPatcher.add_patches`."""

from comfy_core.models.lora import LoraDelta as LoRAAdapter
from comfy_core.models.lycoris import LohaDelta as LoHaAdapter, LokrDelta as LoKrAdapter
from comfy_core.models.patch_math import WeightAdapter as WeightAdapterBase

__all__ = ["LoHaAdapter", "LoKrAdapter", "LoRAAdapter", "WeightAdapterBase"]
