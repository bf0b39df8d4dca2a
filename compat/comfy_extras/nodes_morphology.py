"""`comfy_extras.nodes_morphology`: ComfyUI's morphology and colour spaces nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
