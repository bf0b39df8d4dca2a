"""Guidance-rule and step-cache nodes (ComfyUI's Epsilon Scaling, TSR, Mahiro, CFG-Zero*,
CFGNorm, FreSca, APG, TCFG, PerpNeg, LatentApplyOperationCFG, EasyCache, LazyCache): each
clones the MODEL and adds a cfg / pre-CFG / post-CFG function or wrappers; the rules
live in comfy_core.model_patches."""

from __future__ import annotations

from comfy_core.model_patches import guidance as g
from comfy_core.model_patches import step_cache as sc
from comfy_core.patching.extension import WrappersMP
from comfy_core.registry.v3 import io

UNET = "model_patches/unet"
GUIDANCE = "advanced/guidance"


def _patched_output() -> list:
    return [io.Model.Output(display_name="patched_model")]


def _with_post_cfg(model, hook, disable_cfg1: bool = False):
    m = model.clone()
    m.set_model_sampler_post_cfg_function(hook, disable_cfg1_optimization=disable_cfg1)
    return m


def _with_pre_cfg(model, hook):
    m = model.clone()
    m.set_model_sampler_pre_cfg_function(hook)
    return m


class EpsilonScaling(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_eps"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="Epsilon Scaling", category=UNET, outputs=[io.Model.Output()], inputs=[
            io.Model.Input("model"), io.Float.Input("scaling_factor", default=1.005, min=0.5, max=1.5, step=0.001,
                                                    display_mode=io.NumberDisplay.number)])

    @classmethod
    def execute(cls, model, scaling_factor):
        return io.NodeOutput(_with_post_cfg(model, g.make_epsilon_scaling(scaling_factor)))


class TemporalScoreRescaling(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_eps"

    @classmethod
    def define_schema(cls):
        number = dict(min=0.01, max=100.0, step=0.001, display_mode=io.NumberDisplay.number)
        return io.Schema(
            node_id="TemporalScoreRescaling", display_name="TSR - Temporal Score Rescaling", category=UNET,
            description="[Post-CFG Function]\nTSR - Temporal Score Rescaling (2510.01184)\n\n"
                        "Rescales the model's noise prediction to steer the diversity of samples.\n",
            outputs=_patched_output(), inputs=[
                io.Model.Input("model"),
                io.Float.Input("tsr_k", default=0.95, tooltip="Rescaling strength: lower k gives more detail, "
                               "higher k smoother results; k = 1 turns it off.", **number),
                io.Float.Input("tsr_sigma", default=1.0, tooltip="How early the rescaling takes effect "
                               "(larger: earlier).", **number)])

    @classmethod
    def execute(cls, model, tsr_k, tsr_sigma):
        return io.NodeOutput(_with_post_cfg(model, g.make_temporal_score_rescaling(tsr_k, tsr_sigma)))


class Mahiro(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_mahiro"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="Mahiro", display_name="Mahiro CFG", category="_for_testing", is_experimental=True,
                         description="Steer guidance toward the direction of the positive prompt rather than its "
                                     "difference from the negative.",
                         inputs=[io.Model.Input("model")], outputs=_patched_output())

    @classmethod
    def execute(cls, model):
        return io.NodeOutput(_with_post_cfg(model, g.make_mahiro()))

    patch = execute


class CFGZeroStar(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_cfg"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="CFGZeroStar", category=GUIDANCE, inputs=[io.Model.Input("model")],
                         outputs=_patched_output())

    @classmethod
    def execute(cls, model):
        return io.NodeOutput(_with_post_cfg(model, g.make_cfg_zero_star()))


class CFGNorm(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_cfg"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="CFGNorm", category=GUIDANCE, is_experimental=True, outputs=_patched_output(),
                         inputs=[io.Model.Input("model"),
                                 io.Float.Input("strength", default=1.0, min=0.0, max=100.0, step=0.01)])

    @classmethod
    def execute(cls, model, strength):
        return io.NodeOutput(_with_post_cfg(model, g.make_cfg_norm(strength)))


class FreSca(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_fresca"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="FreSca", display_name="FreSca", category="_for_testing", is_experimental=True,
            description="Scales the low and high frequencies of the guidance separately.",
            outputs=[io.Model.Output()], inputs=[
                io.Model.Input("model"),
                io.Float.Input("scale_low", default=1.0, min=0, max=10, step=0.01,
                               tooltip="Scale of the low-frequency part"),
                io.Float.Input("scale_high", default=1.25, min=0, max=10, step=0.01,
                               tooltip="Scale of the high-frequency part"),
                io.Int.Input("freq_cutoff", default=20, min=1, max=10000, step=1,
                             tooltip="Frequency indices around the centre counted as low frequency")])

    @classmethod
    def execute(cls, model, scale_low, scale_high, freq_cutoff):
        return io.NodeOutput(_with_pre_cfg(model, g.make_fresca(scale_low, scale_high, freq_cutoff)))

    patch = execute


class APG(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_apg"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="APG", display_name="Adaptive Projected Guidance", category="sampling/custom_sampling",
            outputs=[io.Model.Output()], inputs=[
                io.Model.Input("model"),
                io.Float.Input("eta", default=1.0, min=-10.0, max=10.0, step=0.01,
                               tooltip="Scale of the guidance part parallel to the positive (1: plain CFG)."),
                io.Float.Input("norm_threshold", default=5.0, min=0.0, max=50.0, step=0.1,
                               tooltip="Largest norm of the guidance difference (0: no limit)."),
                io.Float.Input("momentum", default=0.0, min=-5.0, max=1.0, step=0.01,
                               tooltip="Running average of the guidance over the steps (0: none).")])

    @classmethod
    def execute(cls, model, eta, norm_threshold, momentum):
        return io.NodeOutput(_with_pre_cfg(model, g.AdaptiveProjectedGuidance(eta, norm_threshold, momentum)))

    patch = execute


class TCFG(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_tcfg"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="TCFG", display_name="Tangential Damping CFG", category=GUIDANCE,
                         description="TCFG - Tangential Damping CFG (2503.18137)\n\nAligns the negative "
                                     "prediction with the positive one by dropping its tangential part.",
                         inputs=[io.Model.Input("model")], outputs=_patched_output())

    @classmethod
    def execute(cls, model):
        return io.NodeOutput(_with_pre_cfg(model, g.make_tcfg()))

    patch = execute


class PerpNeg(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_perpneg"

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="PerpNeg", display_name="Perp-Neg (DEPRECATED by PerpNegGuider)", category="_for_testing",
            is_experimental=True, is_deprecated=True, outputs=[io.Model.Output()], inputs=[
                io.Model.Input("model"), io.Conditioning.Input("empty_conditioning"),
                io.Float.Input("neg_scale", default=1.0, min=0.0, max=100.0, step=0.01)])

    @classmethod
    def execute(cls, model, empty_conditioning, neg_scale):
        m = model.clone()
        m.set_model_sampler_cfg_function(g.PerpNegCfg(empty_conditioning, neg_scale))
        return io.NodeOutput(m)

    patch = execute


class LatentApplyOperationCFG(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_latent"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="LatentApplyOperationCFG", category="latent/advanced/operations",
                         is_experimental=True, outputs=[io.Model.Output()],
                         inputs=[io.Model.Input("model"), io.LatentOperation.Input("operation")])

    @classmethod
    def execute(cls, model, operation):
        return io.NodeOutput(_with_pre_cfg(model, g.make_latent_operation_cfg(operation)))


def _cache_inputs(name: str) -> list:
    return [io.Model.Input("model", tooltip=f"The model to add {name} to."),
            io.Float.Input("reuse_threshold", default=0.2, min=0.0, max=3.0, step=0.01,
                           tooltip="The threshold for reusing cached steps."),
            io.Float.Input("start_percent", default=0.15, min=0.0, max=1.0, step=0.01,
                           tooltip=f"The relative sampling step to begin use of {name}."),
            io.Float.Input("end_percent", default=0.95, min=0.0, max=1.0, step=0.01,
                           tooltip=f"The relative sampling step to end use of {name}."),
            io.Boolean.Input("verbose", default=False, tooltip="Whether to log verbose information.")]


class EasyCache(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_easycache"
    DESCRIPTION = "Skips diffusion model calls whose output would change little, reusing the last change."

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id=cls.__name__, display_name=cls.__name__, description=cls.DESCRIPTION,
                         category="advanced/debug/model", is_experimental=True, inputs=_cache_inputs(cls.__name__),
                         outputs=[io.Model.Output(tooltip=f"The model with {cls.__name__}.")])

    @classmethod
    def wrappers(cls) -> dict:
        return {WrappersMP.CALC_COND_BATCH: sc.easycache_calc_cond_batch_wrapper,
                WrappersMP.DIFFUSION_MODEL: sc.easycache_forward_wrapper}

    @classmethod
    def execute(cls, model, reuse_threshold, start_percent, end_percent, verbose):
        m = model.clone()
        channels = m.model.latent_format.latent_channels
        holder = {"EasyCache": sc.EasyCache, "LazyCache": sc.LazyCache}[cls.__name__]
        m.model_options["transformer_options"][sc.CACHE_KEY] = holder(reuse_threshold, start_percent, end_percent,
                                                                      channels, verbose)
        key = cls.__name__.lower()
        m.add_wrapper_with_key(WrappersMP.OUTER_SAMPLE, key, sc.step_cache_sample_wrapper)
        for kind, wrapper in cls.wrappers().items():
            m.add_wrapper_with_key(kind, key, wrapper)
        return io.NodeOutput(m)


class LazyCache(EasyCache):
    DESCRIPTION = "A simpler EasyCache that caches whole guided predictions; works with any model."

    @classmethod
    def wrappers(cls) -> dict:
        return {WrappersMP.PREDICT_NOISE: sc.lazycache_predict_noise_wrapper}


NODES = (EpsilonScaling, TemporalScoreRescaling, Mahiro, CFGZeroStar, CFGNorm, FreSca, APG, TCFG, PerpNeg,
         LatentApplyOperationCFG, EasyCache, LazyCache)
NODE_CLASS_MAPPINGS = {node.define_schema().node_id: node for node in NODES}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
