"""`comfy_extras.nodes_latent`: ComfyUI's latent arithmetic and batching nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
