"""Image preprocessors for ControlNet hints (ComfyUI's comfy_extras.nodes_canny, V3 schema)."""

from __future__ import annotations

from comfy_core.images.canny import canny
from comfy_core.registry.v3 import io


class Canny(io.ComfyNode):
    """White-on-black Canny edges of an image batch; thresholds as in kornia's canny."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_canny"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="Canny", category="image/preprocessors", inputs=[
            io.Image.Input("image"),
            io.Float.Input("low_threshold", default=0.4, min=0.01, max=0.99, step=0.01),
            io.Float.Input("high_threshold", default=0.8, min=0.01, max=0.99, step=0.01)],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, image, low_threshold, high_threshold):
        edges = canny(image.movedim(-1, 1), low_threshold, high_threshold)[1]  # [B, 1, H, W]
        return io.NodeOutput(edges.repeat(1, 3, 1, 1).movedim(1, -1).cpu())

    detect_edge = execute


NODE_CLASS_MAPPINGS = {"Canny": Canny}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
