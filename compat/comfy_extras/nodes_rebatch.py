"""`comfy_extras.nodes_rebatch`: ComfyUI's rebatching nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
