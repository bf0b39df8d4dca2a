"""`comfy_extras.nodes_lotus`: ComfyUI's Lotus conditioning node (our built-in class)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
