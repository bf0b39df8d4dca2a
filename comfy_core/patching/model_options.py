"""The `model_options` dict of a MODEL and its `transformer_options` (COMPAT-PLUGINS 3.9,
3.10): the setters the patcher and plugins use, and the typed readers our UNet and guider
use instead of spelling string keys at each call site.

It stays a plain dict because plugins read and write it by hand (IPAdapter sets
`transformer_options["patches_replace"]["attn2"][key]` directly). Layout:

    {"transformer_options": {"patches": {name: [patch, ...]},
                             "patches_replace": {name: {(block, id[, index]): fn}},
                             "wrappers": ..., "callbacks": ..., other keys},
     "model_function_wrapper": fn, "sampler_cfg_function": fn,
     "sampler_pre_cfg_function": [fn], "sampler_post_cfg_function": [fn],
     "sampler_calc_cond_batch_function": fn, "denoise_mask_function": fn,
     "disable_cfg1_optimization": bool}
"""

from __future__ import annotations

from typing import Any, Callable

from comfy_core.patching.extension import copy_nested_dicts

TRANSFORMER_OPTIONS = "transformer_options"
PATCHES = "patches"
PATCHES_REPLACE = "patches_replace"
MODEL_FUNCTION_WRAPPER = "model_function_wrapper"
CFG_FUNCTION = "sampler_cfg_function"
PRE_CFG_FUNCTIONS = "sampler_pre_cfg_function"
POST_CFG_FUNCTIONS = "sampler_post_cfg_function"
CALC_COND_BATCH_FUNCTION = "sampler_calc_cond_batch_function"
DENOISE_MASK_FUNCTION = "denoise_mask_function"
DISABLE_CFG1_OPTIMIZATION = "disable_cfg1_optimization"
ATTENTION_OVERRIDE = "optimized_attention_override"

# Patch lists the SD UNet reads (transformer_options["patches"][name]).
UNET_PATCHES = ("emb_patch", "input_block_patch", "input_block_patch_after_skip", "output_block_patch",
                "forward_timestep_embed_patch", "attn1_patch", "attn2_patch", "attn1_output_patch",
                "attn2_output_patch", "middle_patch")


def new_model_options() -> dict:
    return {TRANSFORMER_OPTIONS: {}}


def create_model_options_clone(model_options: dict) -> dict:
    """A copy whose nested dicts and lists are new, so adding to it never touches the
    original (patch objects themselves are shared)."""
    return copy_nested_dicts(model_options)


def set_model_options_patch_replace(model_options: dict, patch: Any, name: str, block_name: str, number: int,
                                    transformer_index: int | None = None) -> dict:
    """Put `patch` at `patches_replace[name][(block_name, number[, transformer_index])]`,
    copying the nested dicts on the way (other holders of them are not affected)."""
    to = dict(model_options.get(TRANSFORMER_OPTIONS, {}))
    replace = dict(to.get(PATCHES_REPLACE, {}))
    table = dict(replace.get(name, {}))
    key = (block_name, number) if transformer_index is None else (block_name, number, transformer_index)
    table[key] = patch
    replace[name] = table
    to[PATCHES_REPLACE] = replace
    model_options[TRANSFORMER_OPTIONS] = to
    return model_options


def set_model_options_post_cfg_function(model_options: dict, post_cfg_function: Callable[[dict], Any],
                                        disable_cfg1_optimization: bool = False) -> dict:
    model_options[POST_CFG_FUNCTIONS] = list(model_options.get(POST_CFG_FUNCTIONS, [])) + [post_cfg_function]
    if disable_cfg1_optimization:
        model_options[DISABLE_CFG1_OPTIMIZATION] = True
    return model_options


def set_model_options_pre_cfg_function(model_options: dict, pre_cfg_function: Callable[[dict], Any],
                                       disable_cfg1_optimization: bool = False) -> dict:
    model_options[PRE_CFG_FUNCTIONS] = list(model_options.get(PRE_CFG_FUNCTIONS, [])) + [pre_cfg_function]
    if disable_cfg1_optimization:
        model_options[DISABLE_CFG1_OPTIMIZATION] = True
    return model_options


def add_model_patch(model_options: dict, patch: Any, name: str) -> None:
    """Append `patch` to `transformer_options["patches"][name]` (a new list: clones that
    share the old one keep it)."""
    to = model_options.setdefault(TRANSFORMER_OPTIONS, {})
    patches = to.setdefault(PATCHES, {})
    patches[name] = list(patches.get(name, [])) + [patch]


# ---- typed readers -------------------------------------------------------------------


def transformer_patches(transformer_options: dict) -> dict[str, list[Any]]:
    """`patches` of a transformer_options dict ({} when there are none)."""
    return transformer_options.get(PATCHES) or {}


def replace_patches(transformer_options: dict, name: str) -> dict[tuple, Any]:
    """`patches_replace[name]` ({} when there are none)."""
    return (transformer_options.get(PATCHES_REPLACE) or {}).get(name) or {}


def pre_cfg_functions(model_options: dict) -> list[Callable[[dict], Any]]:
    return model_options.get(PRE_CFG_FUNCTIONS, [])


def post_cfg_functions(model_options: dict) -> list[Callable[[dict], Any]]:
    return model_options.get(POST_CFG_FUNCTIONS, [])


def cfg1_optimization_disabled(model_options: dict) -> bool:
    return bool(model_options.get(DISABLE_CFG1_OPTIMIZATION, False))


def patch_objects(model_options: dict) -> list[Any]:
    """Every patch object stored in the options (patch lists, replacements, the unet
    wrapper): what a load moves to the device and asks for extra models."""
    to = model_options.get(TRANSFORMER_OPTIONS, {})
    found = [p for plist in transformer_patches(to).values() for p in plist]
    found += [p for table in (to.get(PATCHES_REPLACE) or {}).values() for p in table.values()]
    if MODEL_FUNCTION_WRAPPER in model_options:
        found.append(model_options[MODEL_FUNCTION_WRAPPER])
    return found


def move_patches_to(model_options: dict, target: Any) -> None:
    """Call `.to(target)` (a device or a dtype) on every stored patch object that has it,
    storing the result in place, as plugins expect when the model loads."""
    to = model_options.get(TRANSFORMER_OPTIONS, {})
    for plist in transformer_patches(to).values():
        for i, patch in enumerate(plist):
            if hasattr(patch, "to"):
                plist[i] = patch.to(target)
    for table in (to.get(PATCHES_REPLACE) or {}).values():
        for key, patch in table.items():
            if hasattr(patch, "to"):
                table[key] = patch.to(target)
    wrapper = model_options.get(MODEL_FUNCTION_WRAPPER)
    if wrapper is not None and hasattr(wrapper, "to"):
        model_options[MODEL_FUNCTION_WRAPPER] = wrapper.to(target)
