"""`comfy_extras.nodes_string`: ComfyUI's string nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
