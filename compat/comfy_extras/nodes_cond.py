"""`comfy_extras.nodes_cond`: ComfyUI's nodes of that file that we build in (our classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
