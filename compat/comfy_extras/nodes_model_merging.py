"""`comfy_extras.nodes_model_merging`: ComfyUI's merge and save nodes (our built-in
classes) and `save_checkpoint`, which packs call to write a checkpoint of their own."""

from comfy_extras._catalog import export
from nodes.model_merging import save_checkpoint  # noqa: F401

globals().update(export(__name__))
