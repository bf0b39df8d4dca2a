"""HypernetworkLoader (ComfyUI's comfy_extras.nodes_hypernetwork, V3 schema): an A1111
hypernetwork from a safetensors file as the MODEL's attn1 and attn2 patches."""

from __future__ import annotations

from comfy_core.loading.hypernetworks import load_hypernetwork
from comfy_core.registry.v3 import io
from nodes.common import folders, model_files


class HypernetworkLoader(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_hypernetwork"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="HypernetworkLoader", category="loaders",
            inputs=[io.Model.Input("model"), io.Combo.Input("hypernetwork_name", options=model_files("hypernetworks")),
                    io.Float.Input("strength", default=1.0, min=-10.0, max=10.0, step=0.01)],
            outputs=[io.Model.Output()])

    @classmethod
    def execute(cls, model, hypernetwork_name, strength):
        patch = load_hypernetwork(folders().get_full_path_or_raise("hypernetworks", hypernetwork_name), strength)
        patched = model.clone()
        patched.set_model_attn1_patch(patch)
        patched.set_model_attn2_patch(patch)
        return io.NodeOutput(patched)

    load_hypernetwork = execute


NODE_CLASS_MAPPINGS = {"HypernetworkLoader": HypernetworkLoader}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
