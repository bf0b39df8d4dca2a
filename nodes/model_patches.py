"""UNet and attention patch nodes (ComfyUI's FreeU, HyperTile, Deep Shrink, ToMe, SAG, PAG,
attention multipliers, Differential Diffusion, TorchCompileModel): each clones the MODEL
(or CLIP) and adds patches through the ModelPatcher patch points; the patches themselves
live in comfy_core.model_patches."""

from __future__ import annotations

from comfy_core.model_patches import attention_guidance as ag
from comfy_core.model_patches import sampling_patches as sp
from comfy_core.model_patches import tome, unet_patches as up
from comfy_core.patching.extension import WrappersMP
from comfy_core.registry.v3 import io

UNET = "model_patches/unet"
RESIZE_METHODS = ["bicubic", "nearest-exact", "bilinear", "area", "bislerp"]


def _model_channels(model) -> int:
    return int(model.model.model_config.unet_config["model_channels"])


def _freeu_inputs(b1: float, b2: float) -> list:
    factor = dict(min=0.0, max=10.0, step=0.01)
    return [io.Model.Input("model"), io.Float.Input("b1", default=b1, **factor),
            io.Float.Input("b2", default=b2, **factor), io.Float.Input("s1", default=0.9, **factor),
            io.Float.Input("s2", default=0.2, **factor)]


class FreeU(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_freelunch"
    V2 = False

    @classmethod
    def define_schema(cls):
        defaults = (1.3, 1.4) if cls.V2 else (1.1, 1.2)
        return io.Schema(node_id=cls.__name__, category=UNET, inputs=_freeu_inputs(*defaults),
                         outputs=[io.Model.Output()])

    @classmethod
    def execute(cls, model, b1, b2, s1, s2):
        m = model.clone()
        m.set_model_output_block_patch(up.FreeU(_model_channels(model), b1, b2, s1, s2, v2=cls.V2))
        return io.NodeOutput(m)

    patch = execute


class FreeU_V2(FreeU):  # noqa: N801 - ComfyUI's node name
    V2 = True


class HyperTile(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_hypertile"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="HyperTile", category=UNET, outputs=[io.Model.Output()], inputs=[
            io.Model.Input("model"), io.Int.Input("tile_size", default=256, min=1, max=2048),
            io.Int.Input("swap_size", default=2, min=1, max=128), io.Int.Input("max_depth", default=0, min=0, max=10),
            io.Boolean.Input("scale_depth", default=False)])

    @classmethod
    def execute(cls, model, tile_size, swap_size, max_depth, scale_depth):
        m = model.clone()
        m.set_model_attn1_patch(up.HyperTileIn(_model_channels(model), max(32, tile_size) // 8, swap_size,
                                               max_depth, scale_depth))
        m.set_model_attn1_output_patch(up.hypertile_out)
        return io.NodeOutput(m)

    patch = execute


class PatchModelAddDownscale(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_model_downscale"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PatchModelAddDownscale", display_name="PatchModelAddDownscale (Kohya Deep Shrink)",
            category=UNET, outputs=[io.Model.Output()], inputs=[
                io.Model.Input("model"), io.Int.Input("block_number", default=3, min=1, max=32, step=1),
                io.Float.Input("downscale_factor", default=2.0, min=0.1, max=9.0, step=0.001),
                io.Float.Input("start_percent", default=0.0, min=0.0, max=1.0, step=0.001),
                io.Float.Input("end_percent", default=0.35, min=0.0, max=1.0, step=0.001),
                io.Boolean.Input("downscale_after_skip", default=True),
                io.Combo.Input("downscale_method", options=RESIZE_METHODS),
                io.Combo.Input("upscale_method", options=RESIZE_METHODS)])

    @classmethod
    def execute(cls, model, block_number, downscale_factor, start_percent, end_percent, downscale_after_skip,
                downscale_method, upscale_method):
        sampling = model.get_model_object("model_sampling")
        shrink = up.DeepShrinkIn(block_number, downscale_factor, sampling.percent_to_sigma(start_percent),
                                 sampling.percent_to_sigma(end_percent), downscale_method)
        m = model.clone()
        if downscale_after_skip:
            m.set_model_input_block_patch_after_skip(shrink)
        else:
            m.set_model_input_block_patch(shrink)
        m.set_model_output_block_patch(up.DeepShrinkOut(upscale_method))
        return io.NodeOutput(m)

    patch = execute


class TomePatchModel(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_tomesd"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="TomePatchModel", category=UNET, outputs=[io.Model.Output()], inputs=[
            io.Model.Input("model"), io.Float.Input("ratio", default=0.3, min=0.0, max=1.0, step=0.01)])

    @classmethod
    def execute(cls, model, ratio):
        m = model.clone()
        m.set_model_attn1_patch(tome.TomeMerge(ratio))
        m.set_model_attn1_output_patch(tome.tome_unmerge)
        return io.NodeOutput(m)

    patch = execute


class SelfAttentionGuidance(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_sag"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="SelfAttentionGuidance", display_name="Self-Attention Guidance", category="_for_testing",
            is_experimental=True, outputs=[io.Model.Output()], inputs=[
                io.Model.Input("model"), io.Float.Input("scale", default=0.5, min=-2.0, max=5.0, step=0.01),
                io.Float.Input("blur_sigma", default=2.0, min=0.0, max=10.0, step=0.1)])

    @classmethod
    def execute(cls, model, scale, blur_sigma):
        sag = ag.SelfAttentionGuidance(scale, blur_sigma)
        m = model.clone()
        m.set_model_sampler_post_cfg_function(sag.post_cfg, disable_cfg1_optimization=True)
        m.set_model_attn1_replace(sag.record, "middle", 0, 0)  # diffusers: mid_block.attentions[0]...[0].attn1
        return io.NodeOutput(m)

    patch = execute


class PerturbedAttentionGuidance(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_pag"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="PerturbedAttentionGuidance", category=UNET, outputs=[io.Model.Output()], inputs=[
            io.Model.Input("model"), io.Float.Input("scale", default=3.0, min=0.0, max=100.0, step=0.01, round=0.01)])

    @classmethod
    def execute(cls, model, scale):
        m = model.clone()
        m.set_model_sampler_post_cfg_function(ag.PerturbedAttentionGuidance(scale))
        return io.NodeOutput(m)

    patch = execute


def _multiply_inputs(first: io.Input) -> list:
    factor = dict(default=1.0, min=0.0, max=10.0, step=0.01)
    return [first] + [io.Float.Input(name, **factor) for name in ("q", "k", "v", "out")]


def scale_weights(patcher, suffixes: dict[str, float]) -> None:
    """Scale every weight and bias whose key ends in `<suffix>.weight|bias` by its factor
    (a weight patch with strength_model = factor)."""
    for key in patcher.model_state_dict():
        for suffix, factor in suffixes.items():
            if key.endswith(f"{suffix}.weight") or key.endswith(f"{suffix}.bias"):
                patcher.add_patches({key: (None,)}, 0.0, factor)


class UNetSelfAttentionMultiply(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_attention_multiply"
    ATTN = "attn1"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id=cls.__name__, category="_for_testing/attention_experiments", is_experimental=True,
                         inputs=_multiply_inputs(io.Model.Input("model")), outputs=[io.Model.Output()])

    @classmethod
    def execute(cls, model, q, k, v, out):
        m = model.clone()
        a = cls.ATTN
        scale_weights(m, {f"{a}.to_q": q, f"{a}.to_k": k, f"{a}.to_v": v, f"{a}.to_out.0": out})
        return io.NodeOutput(m)

    patch = execute


class UNetCrossAttentionMultiply(UNetSelfAttentionMultiply):
    ATTN = "attn2"


class CLIPAttentionMultiply(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_attention_multiply"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="CLIPAttentionMultiply", category="_for_testing/attention_experiments",
                         is_experimental=True, inputs=_multiply_inputs(io.Clip.Input("clip")),
                         outputs=[io.Clip.Output()])

    @classmethod
    def execute(cls, clip, q, k, v, out):
        c = clip.clone()
        scale_weights(c.patcher, {"self_attn.q_proj": q, "self_attn.k_proj": k, "self_attn.v_proj": v,
                                  "self_attn.out_proj": out})
        return io.NodeOutput(c)

    patch = execute


class DifferentialDiffusion(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_differential_diffusion"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="DifferentialDiffusion", display_name="Differential Diffusion",
                         category="_for_testing", is_experimental=True, outputs=[io.Model.Output()], inputs=[
                             io.Model.Input("model"),
                             io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.01, optional=True)])

    @classmethod
    def execute(cls, model, strength=1.0):
        m = model.clone()
        m.set_model_denoise_mask_function(sp.DifferentialDiffusion(strength))
        return io.NodeOutput(m)

    apply = execute


class TorchCompileModel(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_torch_compile"
    KEY = "torch_compile"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="TorchCompileModel", category="_for_testing", is_experimental=True,
                         outputs=[io.Model.Output()], inputs=[
                             io.Model.Input("model"), io.Combo.Input("backend", options=["inductor", "cudagraphs"])])

    @classmethod
    def execute(cls, model, backend):
        m = model.clone()
        m.remove_wrappers_with_key(WrappersMP.APPLY_MODEL, cls.KEY)
        m.add_wrapper_with_key(WrappersMP.APPLY_MODEL, cls.KEY, sp.TorchCompileWrapper(backend))
        return io.NodeOutput(m)

    patch = execute


NODES = (FreeU, FreeU_V2, HyperTile, PatchModelAddDownscale, TomePatchModel, SelfAttentionGuidance,
         PerturbedAttentionGuidance, UNetSelfAttentionMultiply, UNetCrossAttentionMultiply, CLIPAttentionMultiply,
         DifferentialDiffusion, TorchCompileModel)
NODE_CLASS_MAPPINGS = {node.__name__: node for node in NODES}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
