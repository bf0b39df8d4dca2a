"""LoraSave ("Extract and Save Lora", ComfyUI's comfy_extras.nodes_lora_extract, V3 schema):
a LoRA of a chosen rank from the difference models ModelMergeSubtract / CLIPMergeSubtract
make (`comfy_core.models.lora_extract`), written with the generic `diffusion_model.` and
`text_encoders.` names every LoRA loader maps."""

from __future__ import annotations

from comfy_core.loading.saving import write_safetensors
from comfy_core.memory.current import load_models
from comfy_core.models.lora_extract import LORA_TYPES, lora_from_diffs
from comfy_core.registry.v3 import io
from nodes.common import folders


def _diffs(patcher, prefix: str) -> dict:
    """The patcher's weights with its patches in place: the difference a Subtract node made."""
    load_models([patcher])
    return {k: v.detach().cpu() for k, v in patcher.model_state_dict(prefix).items()}


class LoraSave(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_lora_extract"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="LoraSave", display_name="Extract and Save Lora", category="_for_testing",
            inputs=[io.String.Input("filename_prefix", default="loras/ComfyUI_extracted_lora"),
                    io.Int.Input("rank", default=8, min=1, max=4096, step=1),
                    io.Combo.Input("lora_type", options=list(LORA_TYPES)),
                    io.Boolean.Input("bias_diff", default=True),
                    io.Model.Input("model_diff", optional=True,
                                   tooltip="The ModelSubtract output to be converted to a lora."),
                    io.Clip.Input("text_encoder_diff", optional=True,
                                  tooltip="The CLIPSubtract output to be converted to a lora.")],
            outputs=[], is_output_node=True, is_experimental=True)

    @classmethod
    def execute(cls, filename_prefix, rank, lora_type, bias_diff, model_diff=None, text_encoder_diff=None):
        if model_diff is None and text_encoder_diff is None:
            return io.NodeOutput()
        state: dict = {}
        if model_diff is not None:
            state |= lora_from_diffs(_diffs(model_diff, "diffusion_model."), "diffusion_model.", "diffusion_model.",
                                     rank, lora_type, bias_diff)
        if text_encoder_diff is not None:
            state |= lora_from_diffs(_diffs(text_encoder_diff.patcher, ""), "", "text_encoders.", rank, lora_type,
                                     bias_diff)
        folder, filename, counter, _, _ = folders().save_image_path(filename_prefix, kind="output")
        write_safetensors(state, folder / f"{filename}_{counter:05}_.safetensors", None)
        return io.NodeOutput()

    save = execute


NODE_CLASS_MAPPINGS = {"LoraSave": LoraSave}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
