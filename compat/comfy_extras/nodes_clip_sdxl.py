"""`comfy_extras.nodes_clip_sdxl`: ComfyUI's SDXL text encoders nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
