"""Latent tools: ComfyUI's comfy_extras latent module (arithmetic, slicing, batching, seed
behaviour, LATENT_OPERATIONs) and the core SaveLatent / LoadLatent."""

from __future__ import annotations

from comfy_core.images import decode, latent_files, latent_ops
from comfy_core.registry.v3 import io
from nodes.common import MAX_RESOLUTION, folders, setting

LATENT = "comfy_extras.nodes_latent"
ADVANCED = "latent/advanced"
OPERATIONS = "latent/advanced/operations"


def _node(node_id: str, category: str, inputs: list, output: type = io.Latent, **extra
          ) -> io.Schema:
    return io.Schema(node_id=node_id, category=category, inputs=inputs, outputs=[output.Output()],
                     **extra)


def _pair() -> list:
    return [io.Latent.Input("samples1"), io.Latent.Input("samples2")]


class LatentAdd(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentAdd", ADVANCED, _pair())

    @classmethod
    def execute(cls, samples1, samples2):
        return io.NodeOutput(latent_ops.add(samples1, samples2))


class LatentSubtract(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentSubtract", ADVANCED, _pair())

    @classmethod
    def execute(cls, samples1, samples2):
        return io.NodeOutput(latent_ops.subtract(samples1, samples2))


class LatentMultiply(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentMultiply", ADVANCED, [
            io.Latent.Input("samples"),
            io.Float.Input("multiplier", default=1.0, min=-10.0, max=10.0, step=0.01)])

    @classmethod
    def execute(cls, samples, multiplier):
        return io.NodeOutput(latent_ops.multiply(samples, multiplier))


class LatentInterpolate(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentInterpolate", ADVANCED, _pair() + [
            io.Float.Input("ratio", default=1.0, min=0.0, max=1.0, step=0.01)])

    @classmethod
    def execute(cls, samples1, samples2, ratio):
        return io.NodeOutput(latent_ops.interpolate(samples1, samples2, ratio))


class LatentConcat(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentConcat", ADVANCED, _pair() + [
            io.Combo.Input("dim", options=list(latent_ops.CONCAT_DIMS))])

    @classmethod
    def execute(cls, samples1, samples2, dim):
        return io.NodeOutput(latent_ops.concat(samples1, samples2, dim))


class LatentCut(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentCut", ADVANCED, [
            io.Latent.Input("samples"), io.Combo.Input("dim", options=list(latent_ops.CUT_DIMS)),
            io.Int.Input("index", default=0, min=-MAX_RESOLUTION, max=MAX_RESOLUTION, step=1),
            io.Int.Input("amount", default=1, min=1, max=MAX_RESOLUTION, step=1)])

    @classmethod
    def execute(cls, samples, dim, index, amount):
        return io.NodeOutput(latent_ops.cut(samples, dim, index, amount))


class LatentCutToBatch(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentCutToBatch", ADVANCED, [
            io.Latent.Input("samples"),
            io.Combo.Input("dim", options=list(latent_ops.CUT_TO_BATCH_DIMS)),
            io.Int.Input("slice_size", default=1, min=1, max=MAX_RESOLUTION, step=1)])

    @classmethod
    def execute(cls, samples, dim, slice_size):
        return io.NodeOutput(latent_ops.cut_to_batch(samples, dim, slice_size))


class LatentBatch(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentBatch", "latent/batch", _pair(), is_deprecated=True)

    @classmethod
    def execute(cls, samples1, samples2):
        return io.NodeOutput(latent_ops.batch([samples1, samples2]))


class LatentBatchSeedBehavior(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentBatchSeedBehavior", ADVANCED, [
            io.Latent.Input("samples"),
            io.Combo.Input("seed_behavior", options=["random", "fixed"], default="fixed")])

    @classmethod
    def execute(cls, samples, seed_behavior):
        return io.NodeOutput(latent_ops.seed_behavior(samples, seed_behavior))


class LatentApplyOperation(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentApplyOperation", OPERATIONS, [
            io.Latent.Input("samples"), io.LatentOperation.Input("operation")],
            is_experimental=True)

    @classmethod
    def execute(cls, samples, operation):
        return io.NodeOutput(latent_ops.apply(samples, operation))


class LatentOperationTonemapReinhard(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentOperationTonemapReinhard", OPERATIONS, [
            io.Float.Input("multiplier", default=1.0, min=0.0, max=100.0, step=0.01)],
            io.LatentOperation, is_experimental=True)

    @classmethod
    def execute(cls, multiplier):
        return io.NodeOutput(latent_ops.tonemap_reinhard(multiplier))


class LatentOperationSharpen(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = LATENT

    @classmethod
    def define_schema(cls):
        return _node("LatentOperationSharpen", OPERATIONS, [
            io.Int.Input("sharpen_radius", default=9, min=1, max=31, step=1),
            io.Float.Input("sigma", default=1.0, min=0.1, max=10.0, step=0.1),
            io.Float.Input("alpha", default=0.1, min=0.0, max=5.0, step=0.01)],
            io.LatentOperation, is_experimental=True)

    @classmethod
    def execute(cls, sharpen_radius, sigma, alpha):
        return io.NodeOutput(latent_ops.sharpen_operation(sharpen_radius, sigma, alpha))


class SaveLatent:
    """Writes a LATENT as a .latent file under output/ (default latents/)."""

    CATEGORY = "_for_testing"
    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",),
                             "filename_prefix": ("STRING", {"default": "latents/ComfyUI"})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def save(self, samples, filename_prefix="ComfyUI", prompt=None, extra_pnginfo=None):
        entry = latent_files.save_latent(samples, folders(), filename_prefix,
                                         metadata=not setting("disable_metadata", False),
                                         prompt=prompt, extra_pnginfo=extra_pnginfo)
        return {"ui": {"latents": [entry]}}


class LoadLatent:
    """Reads a .latent file from input/ (older files rescaled)."""

    CATEGORY = "_for_testing"
    RETURN_TYPES = ("LATENT",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"latent": [latent_files.list_latent_files(folders().input_dir)]}}

    def load(self, latent):
        return (latent_files.load_latent(folders().annotated_path(latent)),)

    @classmethod
    def IS_CHANGED(cls, latent, **_):
        return decode.file_sha256(folders().annotated_path(latent))

    @classmethod
    def VALIDATE_INPUTS(cls, latent):
        if not folders().annotated_exists(latent):
            return f"Invalid latent file: {latent}"
        return True


NODES = (LatentAdd, LatentSubtract, LatentMultiply, LatentInterpolate, LatentConcat, LatentCut,
         LatentCutToBatch, LatentBatch, LatentBatchSeedBehavior, LatentApplyOperation,
         LatentOperationTonemapReinhard, LatentOperationSharpen)
NODE_CLASS_MAPPINGS = {cls.GET_SCHEMA().node_id: cls for cls in NODES}
NODE_CLASS_MAPPINGS.update({"SaveLatent": SaveLatent, "LoadLatent": LoadLatent})
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
