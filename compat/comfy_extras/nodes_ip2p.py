"""`comfy_extras.nodes_ip2p`: ComfyUI's InstructPix2Pix conditioning nodes (our built-in classes)."""

from comfy_extras._catalog import export

globals().update(export(__name__))
