"""`comfy_extras.nodes_model_merging_model_specific`: ComfyUI's per-family block merge
nodes of that extras file (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
