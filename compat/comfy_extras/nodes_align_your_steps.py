"""`comfy_extras.nodes_align_your_steps`: ComfyUI's Align Your Steps scheduler nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
