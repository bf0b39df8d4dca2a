"""`comfy_extras.nodes_logic`: ComfyUI's switch and custom combo nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
