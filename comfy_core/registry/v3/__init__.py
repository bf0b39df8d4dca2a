"""ComfyUI's V3 node schema (`comfy_api.latest`) as our own code: `io` (types, Schema,
ComfyNode, NodeOutput), `ui` (plain UI results) and `ComfyExtension`; `binding` is how the
registry, validation and the executor read such a node.

Torch-free: built-in nodes and the plugin facade import it; the file-writing UI helpers
are in `comfy_core.images.ui_outputs`.
"""

from comfy_core.registry.v3 import io, ui
from comfy_core.registry.v3.node import ComfyExtension, ComfyNode, NodeOutput, is_v3_class

__all__ = ["ComfyExtension", "ComfyNode", "NodeOutput", "io", "is_v3_class", "ui"]
