"""Lotus (an SD2-derived depth/normal estimator, its own model type; ComfyUI's
comfy_extras.nodes_lotus, V3 schema): the fixed conditioning its UNet was tuned with. The
rest of a Lotus graph is ordinary nodes: UNETLoader (detects Lotus-D), VAEEncode of the
picture, one Euler step from σ 999 without noise (SetFirstSigma, DisableNoise,
SamplerCustomAdvanced), VAEDecode."""

from __future__ import annotations

from comfy_core.registry.v3 import io
from comfy_core.sampling.lotus import lotus_empty_prompt


class LotusConditioning(io.ComfyNode):
    """The empty prompt as SD2's text encoder encodes it, fixed: no text encoder is loaded."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_lotus"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="LotusConditioning", category="conditioning/lotus", inputs=[],
                         outputs=[io.Conditioning.Output(display_name="conditioning")])

    @classmethod
    def execute(cls):
        return io.NodeOutput([[lotus_empty_prompt(), {}]])

    conditioning = execute


NODE_CLASS_MAPPINGS = {"LotusConditioning": LotusConditioning}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
