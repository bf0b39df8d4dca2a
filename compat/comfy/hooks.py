"""`comfy.hooks`: hooks carried by conditioning and ControlNets (COMPAT-PLUGINS 3.21), from
`comfy_core.patching.hooks`. Wrapper hooks on ControlNets (`extra_hooks`) are registered
when sampling starts; weight, object-patch and keyframed hooks on conditioning are not
supported (see that module)."""

from comfy_core.patching.hooks import (  # noqa: F401
    EnumHookMode,
    EnumHookScope,
    EnumHookType,
    EnumWeightTarget,
    Hook,
    HookGroup,
    WrapperHook,
)
