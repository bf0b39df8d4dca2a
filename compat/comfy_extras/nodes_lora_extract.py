"""`comfy_extras.nodes_lora_extract`: ComfyUI's LoraSave node (our built-in class) and
`extract_lora(diff, rank) -> (up, down)`, the SVD factorisation packs reuse."""

from comfy_extras._catalog import export
from comfy_core.models.lora_extract import extract_lora  # noqa: F401

globals().update(export(__name__))
