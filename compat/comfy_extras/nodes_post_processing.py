"""`comfy_extras.nodes_post_processing`: ComfyUI's image post-processing nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
