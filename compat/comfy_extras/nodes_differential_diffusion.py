"""`comfy_extras.nodes_differential_diffusion`: ComfyUI's nodes of that extras file (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
