"""`comfy.hooks`: hooks carried by conditioning and ControlNets (COMPAT-PLUGINS 3.21), from
`comfy_core.patching.hooks`. Wrapper hooks on ControlNets (`extra_hooks`) are registered
when sampling starts. Scheduled hooks on conditioning (hook LoRAs, keyframes: ComfyUI's
"hook" nodes) are not supported: their names exist for packs that import them, and
building or calling one raises an error saying so."""

from comfy._unsupported import unsupported_class, unsupported_function
from comfy_core.patching.hooks import (  # noqa: F401
    EnumHookMode,
    EnumHookScope,
    EnumHookType,
    EnumWeightTarget,
    Hook,
    HookGroup,
    WrapperHook,
)

_SCHEDULED = "scheduled hooks on conditioning"
HookKeyframe = unsupported_class("HookKeyframe", f"a keyframe of {_SCHEDULED}", __name__)
HookKeyframeGroup = unsupported_class("HookKeyframeGroup", f"keyframes of {_SCHEDULED}", __name__)
WeightHook = unsupported_class("WeightHook", f"a weight patch among {_SCHEDULED}", __name__)
ObjectPatchHook = unsupported_class("ObjectPatchHook", f"an object patch among {_SCHEDULED}", __name__)
globals().update({name: unsupported_function(name, _SCHEDULED, __name__) for name in (
    "create_hook_lora", "create_hook_model_as_lora", "load_hook_lora_for_models", "set_hooks_for_conditioning",
    "set_conds_props", "set_conds_props_and_combine", "set_default_conds_and_combine",
    "conditioning_set_values_with_hooks")})
