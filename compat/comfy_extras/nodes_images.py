"""`comfy_extras.nodes_images`: ComfyUI's image tools nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
