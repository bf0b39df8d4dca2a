"""`comfy_extras.nodes_gits`: ComfyUI's GITS scheduler nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
