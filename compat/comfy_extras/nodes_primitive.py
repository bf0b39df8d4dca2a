"""`comfy_extras.nodes_primitive`: ComfyUI's primitive values nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
