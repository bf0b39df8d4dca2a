"""`comfy_extras.nodes_webcam`: ComfyUI's webcam capture nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
