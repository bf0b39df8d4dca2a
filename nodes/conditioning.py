"""Conditioning nodes: combine, average, concat, areas, masks, timestep ranges."""

from __future__ import annotations

from nodes import conditioning_ops as ops
from nodes.common import MAX_RESOLUTION

_STRENGTH = {"default": 1.0, "min": 0.0, "max": 10.0, "step": 0.01}


class _CondNode:
    CATEGORY = "conditioning"
    RETURN_TYPES = ("CONDITIONING",)


class CLIPSetLastLayer:
    CATEGORY = "conditioning"
    RETURN_TYPES = ("CLIP",)
    FUNCTION = "set_last_layer"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"clip": ("CLIP",), "stop_at_clip_layer": (
            "INT", {"default": -1, "min": -24, "max": -1, "step": 1})}}

    def set_last_layer(self, clip, stop_at_clip_layer):
        clip = clip.clone()
        clip.clip_layer(stop_at_clip_layer)
        return (clip,)


class ConditioningCombine(_CondNode):
    FUNCTION = "combine"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning_1": ("CONDITIONING",),
                             "conditioning_2": ("CONDITIONING",)}}

    def combine(self, conditioning_1, conditioning_2):
        return (conditioning_1 + conditioning_2,)


class ConditioningAverage(_CondNode):
    FUNCTION = "addWeighted"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning_to": ("CONDITIONING",),
                             "conditioning_from": ("CONDITIONING",),
                             "conditioning_to_strength": ("FLOAT", {
                                 "default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01})}}

    def addWeighted(  # noqa: N802 (ComfyUI's FUNCTION name)
            self, conditioning_to, conditioning_from, conditioning_to_strength):
        return (ops.average(conditioning_to, conditioning_from, conditioning_to_strength),)


class ConditioningConcat(_CondNode):
    FUNCTION = "concat"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning_to": ("CONDITIONING",),
                             "conditioning_from": ("CONDITIONING",)}}

    def concat(self, conditioning_to, conditioning_from):
        return (ops.concat(conditioning_to, conditioning_from),)


class ConditioningSetArea(_CondNode):
    FUNCTION = "append"

    @classmethod
    def INPUT_TYPES(cls):
        side = {"default": 64, "min": 64, "max": MAX_RESOLUTION, "step": 8}
        pos = {"default": 0, "min": 0, "max": MAX_RESOLUTION, "step": 8}
        return {"required": {"conditioning": ("CONDITIONING",), "width": ("INT", dict(side)),
                             "height": ("INT", dict(side)), "x": ("INT", dict(pos)),
                             "y": ("INT", dict(pos)), "strength": ("FLOAT", dict(_STRENGTH))}}

    def append(self, conditioning, width, height, x, y, strength):
        return (ops.set_values(conditioning, {
            "area": (height // 8, width // 8, y // 8, x // 8), "strength": strength,
            "set_area_to_bounds": False}),)


class ConditioningSetAreaPercentage(_CondNode):
    FUNCTION = "append"

    @classmethod
    def INPUT_TYPES(cls):
        def frac(default):
            return ("FLOAT", {"default": default, "min": 0, "max": 1.0, "step": 0.01})
        return {"required": {"conditioning": ("CONDITIONING",), "width": frac(1.0),
                             "height": frac(1.0), "x": frac(0), "y": frac(0),
                             "strength": ("FLOAT", dict(_STRENGTH))}}

    def append(self, conditioning, width, height, x, y, strength):
        return (ops.set_values(conditioning, {
            "area": ("percentage", height, width, y, x), "strength": strength,
            "set_area_to_bounds": False}),)


class ConditioningSetAreaStrength(_CondNode):
    FUNCTION = "append"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING",),
                             "strength": ("FLOAT", dict(_STRENGTH))}}

    def append(self, conditioning, strength):
        return (ops.set_values(conditioning, {"strength": strength}),)


class ConditioningSetMask(_CondNode):
    FUNCTION = "append"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING",), "mask": ("MASK",),
                             "strength": ("FLOAT", dict(_STRENGTH)),
                             "set_cond_area": (["default", "mask bounds"],)}}

    def append(self, conditioning, mask, set_cond_area, strength):
        return (ops.set_mask(conditioning, mask, strength, set_cond_area),)


class ConditioningZeroOut(_CondNode):
    CATEGORY = "advanced/conditioning"
    FUNCTION = "zero_out"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": ("CONDITIONING",)}}

    def zero_out(self, conditioning):
        return (ops.zero_out(conditioning),)


class ConditioningSetTimestepRange(_CondNode):
    CATEGORY = "advanced/conditioning"
    FUNCTION = "set_range"

    @classmethod
    def INPUT_TYPES(cls):
        def pct(default):
            return ("FLOAT", {"default": default, "min": 0.0, "max": 1.0, "step": 0.001})
        return {"required": {"conditioning": ("CONDITIONING",), "start": pct(0.0),
                             "end": pct(1.0)}}

    def set_range(self, conditioning, start, end):
        return (ops.set_values(conditioning, {"start_percent": start, "end_percent": end}),)


NODE_CLASS_MAPPINGS = {
    "CLIPSetLastLayer": CLIPSetLastLayer,
    "ConditioningAverage": ConditioningAverage,
    "ConditioningCombine": ConditioningCombine,
    "ConditioningConcat": ConditioningConcat,
    "ConditioningSetArea": ConditioningSetArea,
    "ConditioningSetAreaPercentage": ConditioningSetAreaPercentage,
    "ConditioningSetAreaStrength": ConditioningSetAreaStrength,
    "ConditioningSetMask": ConditioningSetMask,
    "ConditioningZeroOut": ConditioningZeroOut,
    "ConditioningSetTimestepRange": ConditioningSetTimestepRange,
}
# ComfyUI keys ConditioningAverage's title with a trailing space, so /object_info shows its
# class name as the display name (COMPAT 6); leaving it out here gives the same result.
NODE_DISPLAY_NAME_MAPPINGS = {
    "CLIPSetLastLayer": "CLIP Set Last Layer",
    "ConditioningCombine": "Conditioning (Combine)",
    "ConditioningConcat": "Conditioning (Concat)",
    "ConditioningSetArea": "Conditioning (Set Area)",
    "ConditioningSetAreaPercentage": "Conditioning (Set Area with Percentage)",
    "ConditioningSetMask": "Conditioning (Set Mask)",
}
