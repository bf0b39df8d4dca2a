"""`comfy_extras.nodes_advanced_samplers`: ComfyUI's advanced samplers nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
