"""`comfy_extras.nodes_compositing`: ComfyUI's Porter-Duff compositing nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
