"""`comfy_extras.nodes_preview_any`: ComfyUI's PreviewAny nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
