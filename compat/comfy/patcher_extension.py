"""`comfy.patcher_extension`: wrappers, callbacks and injections of a MODEL
(COMPAT-PLUGINS 3.20), our `comfy_core.patching.extension` under ComfyUI's name."""

from comfy_core.patching.extension import (  # noqa: F401
    CallbacksMP,
    PatcherInjection,
    WrapperExecutor,
    WrappersMP,
    add_callback,
    add_callback_with_key,
    add_wrapper,
    add_wrapper_with_key,
    copy_nested_dicts,
    get_all_callbacks,
    get_all_wrappers,
    get_callbacks_with_key,
    get_wrappers_with_key,
    merge_nested_dicts,
)
