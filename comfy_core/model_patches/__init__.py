"""The model patches behind ComfyUI's model-patch nodes (FreeU, SAG, PAG, ToMe, HyperTile,
Deep Shrink, the CFG variants, step caches, ...), each built only on the patch points a
MODEL exposes (`comfy_core.patching`: model_options hooks, transformer patches, wrappers)
and on model sampling objects: no private mechanism. Model side: may import
`comfy_core.sampling`, `comfy_core.patching` and `comfy_core.images`; nodes import it.
"""
