"""`comfy_extras.nodes_hooks`: ComfyUI's hook nodes (hook LoRAs, keyframes, conditioning
hooks). Scheduled hooks are not supported here (see `comfy.hooks`), so these nodes are not
registered; their classes exist for packs that subclass them, and using one raises an
error saying so."""

from comfy._unsupported import unsupported_class

_WHAT = "a hook node (scheduled hooks on conditioning)"
globals().update({name: unsupported_class(name, _WHAT, __name__) for name in (
    "CreateHookLora", "CreateHookLoraModelOnly", "CreateHookModelAsLora", "CreateHookModelAsLoraModelOnly",
    "SetHookKeyframes", "CreateHookKeyframe", "CreateHookKeyframesInterpolated", "CreateHookKeyframesFromFloats",
    "SetClipHooks", "ConditioningTimestepsRange", "PairConditioningSetProperties",
    "PairConditioningSetPropertiesAndCombine", "ConditioningSetProperties", "ConditioningSetPropertiesAndCombine",
    "PairConditioningCombine", "PairConditioningSetDefaultCombine", "ConditioningSetDefaultCombine",
    "CombineHooks", "CombineHooksFour", "CombineHooksEight")})
