"""`comfy_extras.nodes_sdupscale`: ComfyUI's SD x4 upscaler conditioning node (our built-in class)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
