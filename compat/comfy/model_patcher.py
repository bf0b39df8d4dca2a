"""`comfy.model_patcher`: the MODEL value's class and the model_options helpers
(COMPAT-PLUGINS 3.9). Our classes under ComfyUI's names (docs/model-patches.md): packs
subclass ModelPatcher (GGUF's clone goes through `self.__class__`) and call the setters."""

from comfy_core.models.patcher import ModelPatcher
from comfy_core.patching.extension import CallbacksMP, PatcherInjection, WrappersMP
from comfy_core.patching.model_options import (
    create_model_options_clone,
    set_model_options_patch_replace,
    set_model_options_post_cfg_function,
    set_model_options_pre_cfg_function,
)

__all__ = ["CallbacksMP", "ModelPatcher", "PatcherInjection", "WrappersMP", "create_model_options_clone",
           "set_model_options_patch_replace", "set_model_options_post_cfg_function",
           "set_model_options_pre_cfg_function"]

