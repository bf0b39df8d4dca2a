"""`comfy.conds`: ComfyUI's per-input model-cond wrappers. A resolved conditioning entry
handed to a pack (the conds of `sampling_function` / `calc_cond_batch`) shows its model
inputs under `model_conds` as these classes (`c_crossattn`, `y`, `c_concat`); a pack's
slices of them (`_copy_with`) or its own added inputs are what the next model call batches.
The classes live in comfy_core.sampling.model_conds."""

from comfy_core.sampling.model_conds import CONDConstant, CONDCrossAttn, CONDList, CONDNoiseShape, CONDRegular

__all__ = ["CONDRegular", "CONDNoiseShape", "CONDCrossAttn", "CONDConstant", "CONDList"]
