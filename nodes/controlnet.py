"""ControlNet and T2I-Adapter nodes: the loaders (ControlNet, T2I-Adapter and Control-LoRA
files from the controlnet folder; diff ControlNets with their base MODEL), the apply nodes
(ComfyUI's rules: each application copies the loaded value, sets its hint, chains it onto
the control already on the entry; the old node also controls the negative pass, the
advanced one attaches to both lists with a schedule range and optional VAE), the union
ControlNet's type switch and the ControlNet-specific prompt (COMPAT-PLUGINS 3.17)."""

from __future__ import annotations

from comfy_core import runtime
from comfy_core.loading.controlnet import load_controlnet
from comfy_core.loading.options import load_options
from comfy_core.models.control import ControlBase
from comfy_core.models.controlnet import UNION_CONTROLNET_TYPES
from comfy_core.registry.v3 import io
from nodes.common import folders
from nodes.text_encode import encode_prompt

_STRENGTH = {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.01}
_PERCENT = {"min": 0.0, "max": 1.0, "step": 0.001}


def _load(name: str, model=None) -> ControlBase:
    memory = runtime.app().memory
    options = load_options(memory)
    path = folders().get_full_path_or_raise("controlnet", name)
    return load_controlnet(path, model, dtype=options.unet, device=options.device,
                           load_device=None if memory is None else memory.device)


class ControlNetLoader:
    CATEGORY = "loaders"
    RETURN_TYPES = ("CONTROL_NET",)
    FUNCTION = "load_controlnet"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"control_net_name": (folders().get_filename_list("controlnet"),)}}

    def load_controlnet(self, control_net_name):
        return (_load(control_net_name),)


class DiffControlNetLoader:
    CATEGORY = "loaders"
    RETURN_TYPES = ("CONTROL_NET",)
    FUNCTION = "load_controlnet"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",),
                             "control_net_name": (folders().get_filename_list("controlnet"),)}}

    def load_controlnet(self, model, control_net_name):
        return (_load(control_net_name, model),)


class ControlNetApply:
    CATEGORY = "conditioning/controlnet"
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "apply_controlnet"
    DEPRECATED = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING",), "control_net": ("CONTROL_NET",),
                             "image": ("IMAGE",), "strength": ("FLOAT", _STRENGTH)}}

    def apply_controlnet(self, conditioning, control_net, image, strength):
        if strength == 0:
            return (conditioning,)
        hint = image.movedim(-1, 1)
        out = []
        for cross_attn, options in conditioning:
            control = control_net.copy().set_cond_hint(hint, strength)
            if "control" in options:
                control.set_previous_controlnet(options["control"])
            out.append([cross_attn, {**options, "control": control, "control_apply_to_uncond": True}])
        return (out,)


class ControlNetApplyAdvanced:
    CATEGORY = "conditioning/controlnet"
    RETURN_TYPES = ("CONDITIONING", "CONDITIONING")
    RETURN_NAMES = ("positive", "negative")
    FUNCTION = "apply_controlnet"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"positive": ("CONDITIONING",), "negative": ("CONDITIONING",),
                             "control_net": ("CONTROL_NET",), "image": ("IMAGE",), "strength": ("FLOAT", _STRENGTH),
                             "start_percent": ("FLOAT", {"default": 0.0, **_PERCENT}),
                             "end_percent": ("FLOAT", {"default": 1.0, **_PERCENT})},
                "optional": {"vae": ("VAE",)}}

    def apply_controlnet(self, positive, negative, control_net, image, strength, start_percent, end_percent,
                         vae=None, extra_concat=()):
        """Entries that had the same control before share one new control afterwards."""
        if strength == 0:
            return (positive, negative)
        hint = image.movedim(-1, 1)
        made: dict[int, ControlBase] = {}
        out = []
        for conditioning in (positive, negative):
            entries = []
            for cross_attn, options in conditioning:
                previous = options.get("control")
                if id(previous) not in made:
                    made[id(previous)] = control_net.copy().set_cond_hint(
                        hint, strength, (start_percent, end_percent), vae=vae, extra_concat=list(extra_concat))
                    made[id(previous)].set_previous_controlnet(previous)
                entries.append([cross_attn, {**options, "control": made[id(previous)],
                                             "control_apply_to_uncond": False}])
            out.append(entries)
        return (out[0], out[1])


class SetUnionControlNetType(io.ComfyNode):
    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_controlnet"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="SetUnionControlNetType", category="conditioning/controlnet", inputs=[
            io.ControlNet.Input("control_net"),
            io.Combo.Input("type", options=["auto"] + list(UNION_CONTROLNET_TYPES))],
            outputs=[io.ControlNet.Output()])

    @classmethod
    def execute(cls, control_net, type):
        control_net = control_net.copy()
        number = UNION_CONTROLNET_TYPES.get(type, -1)
        control_net.set_extra_arg("control_type", [number] if number >= 0 else [])
        return io.NodeOutput(control_net)

    set_controlnet_type = execute


class CLIPTextEncodeControlnet(io.ComfyNode):
    """A second prompt for the ControlNet only: the UNet keeps the entry's own tokens."""

    RELATIVE_PYTHON_MODULE = "comfy_extras.nodes_cond"

    @classmethod
    def define_schema(cls):
        return io.Schema(node_id="CLIPTextEncodeControlnet", category="_for_testing/conditioning",
                         is_experimental=True, inputs=[
                             io.Clip.Input("clip"), io.Conditioning.Input("conditioning"),
                             io.String.Input("text", multiline=True, dynamic_prompts=True)],
                         outputs=[io.Conditioning.Output()])

    @classmethod
    def execute(cls, clip, conditioning, text):
        cond, pooled = encode_prompt(clip, text)
        return io.NodeOutput([[t[0], {**t[1], "cross_attn_controlnet": cond, "pooled_output_controlnet": pooled}]
                              for t in conditioning])

    encode = execute


NODE_CLASS_MAPPINGS = {
    "ControlNetLoader": ControlNetLoader,
    "DiffControlNetLoader": DiffControlNetLoader,
    "ControlNetApply": ControlNetApply,
    "ControlNetApplyAdvanced": ControlNetApplyAdvanced,
    "SetUnionControlNetType": SetUnionControlNetType,
    "CLIPTextEncodeControlnet": CLIPTextEncodeControlnet,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "ControlNetLoader": "Load ControlNet Model",
    "DiffControlNetLoader": "Load ControlNet Model (diff)",
    "ControlNetApply": "Apply ControlNet (OLD)",
    "ControlNetApplyAdvanced": "Apply ControlNet",
}
