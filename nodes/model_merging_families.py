"""Per-family block merges (ComfyUI's comfy_extras.nodes_model_merging_model_specific): one
ratio per UNet key prefix (embeddings, every input/middle/output block, the output layer),
the longest matching prefix winning (`comfy_core.models.merging.block_ratios`)."""

from __future__ import annotations

from nodes.model_merging import ModelMergeBlocks

_RATIO = ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01})


def _prefixes(blocks: int, dot: str) -> list[str]:
    """time/label embeddings, `blocks` input and output blocks, 3 middle parts, the output."""
    names = ["time_embed.", "label_emb."]
    names += [f"input_blocks.{i}{dot}" for i in range(blocks)]
    names += [f"middle_block.{i}{dot}" for i in range(3)]
    names += [f"output_blocks.{i}{dot}" for i in range(blocks)]
    return names + ["out."]


class _FamilyMerge(ModelMergeBlocks):
    """ModelMergeBlocks with a ratio per block of the family (ComfyUI subclasses it too)."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_model_merging_model_specific"
    CATEGORY = "advanced/model_merging/model_specific"
    PREFIXES: list[str] = []

    @classmethod
    def INPUT_TYPES(cls):
        required = {"model1": ("MODEL",), "model2": ("MODEL",)}
        required.update({name: _RATIO for name in cls.PREFIXES})
        return {"required": required}


class ModelMergeSD1(_FamilyMerge):
    PREFIXES = _prefixes(12, ".")


class ModelMergeSD2(ModelMergeSD1):
    """Same block layout as SD1."""


class ModelMergeSDXL(_FamilyMerge):
    PREFIXES = _prefixes(9, "")  # ComfyUI's SDXL names carry no trailing dot


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (ModelMergeSD1, ModelMergeSD2, ModelMergeSDXL)}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
