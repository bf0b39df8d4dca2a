"""`comfy_extras.nodes_perpneg`: ComfyUI's Perp-Neg guidance nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
