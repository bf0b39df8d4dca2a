"""`comfy_extras.nodes_canny`: ComfyUI's Canny node (our built-in class; `.detect_edge`)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
