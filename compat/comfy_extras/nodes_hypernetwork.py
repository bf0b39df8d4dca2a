"""`comfy_extras.nodes_hypernetwork`: ComfyUI's HypernetworkLoader (our built-in class) and
`load_hypernetwork_patch(path, strength)`, the attn1/attn2 patch packs build themselves
(safetensors files only; pickle files are refused as everywhere)."""

from comfy_extras._catalog import export
from comfy_core.loading.hypernetworks import load_hypernetwork as load_hypernetwork_patch  # noqa: F401

globals().update(export(__name__))
