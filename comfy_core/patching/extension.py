"""Wrappers, callbacks and injections: the extension protocol of a MODEL (ComfyUI's
`comfy.patcher_extension`, COMPAT-PLUGINS 3.20).

A wrapper is `fn(executor, *args, **kwargs)` that continues with `executor(*args, **kwargs)`
(and may change the arguments or the result); `executor.class_obj` is the object whose
method is wrapped. Wrappers and callbacks are stored `{type: {key | None: [fn, ...]}}`, on
the patcher and, while sampling, merged into `transformer_options["wrappers"|"callbacks"]`,
where the guider, the base model and the UNet look them up by type.
"""

from __future__ import annotations

from typing import Any, Callable

Registry = dict[str, dict[Any, list[Callable[..., Any]]]]


class WrappersMP:
    """Wrapper types: where in a sampling run the wrapped call sits."""

    OUTER_SAMPLE = "outer_sample"  # guider.outer_sample(noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed)
    PREPARE_SAMPLING = "prepare_sampling"
    SAMPLER_SAMPLE = "sampler_sample"  # sampler.sample(guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar)
    PREDICT_NOISE = "predict_noise"  # guider.predict_noise(x, timestep, model_options, seed)
    CALC_COND_BATCH = "calc_cond_batch"  # calc_cond_batch(model, conds, x_in, timestep, model_options)
    APPLY_MODEL = "apply_model"  # base_model.apply_model(x, t, c_concat, c_crossattn, control, transformer_options, **kw)
    DIFFUSION_MODEL = "diffusion_model"  # unet.forward(x, timesteps, context, y, control, transformer_options, **kw)

    @classmethod
    def init_wrappers(cls) -> Registry:
        return {}


class CallbacksMP:
    """Callback types: moments in a patcher's life (`fn` arguments in the comments)."""

    ON_CLONE = "on_clone"  # (old, new)
    ON_LOAD = "on_load_after"  # (patcher, device_to, lowvram_model_memory, force_patch_weights, full_load)
    ON_DETACH = "on_detach_after"  # (patcher, unpatch_all)
    ON_CLEANUP = "on_cleanup"  # (patcher)
    ON_PRE_RUN = "on_pre_run"  # (patcher)
    ON_PREPARE_STATE = "on_prepare_state"  # (patcher, timestep)
    ON_APPLY_HOOKS = "on_apply_hooks"
    ON_REGISTER_ALL_HOOK_PATCHES = "on_register_all_hook_patches"
    ON_INJECT_MODEL = "on_inject_model"  # (patcher)
    ON_EJECT_MODEL = "on_eject_model"  # (patcher)

    @classmethod
    def init_callbacks(cls) -> Registry:
        return {}


class PatcherInjection:
    """A change to the model that must be undone before weights move: `inject(patcher)`
    when the patcher is put in place, `eject(patcher)` before another takes over."""

    def __init__(self, inject: Callable[[Any], Any], eject: Callable[[Any], Any]) -> None:
        self.inject = inject
        self.eject = eject


class WrapperExecutor:
    """Runs `original` through `wrappers` (the first is outermost). A wrapper receives the
    executor for the rest of the chain and calls it like the original."""

    def __init__(self, original: Callable[..., Any], class_obj: Any, wrappers: list[Callable[..., Any]],
                 idx: int) -> None:
        self.original = original
        self.class_obj = class_obj
        self.wrappers = list(wrappers)
        self.idx = idx
        self.is_last = idx == len(self.wrappers)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Continue with the next wrapper, or the original after the last one."""
        if self.idx + 1 > len(self.wrappers):
            raise RuntimeError("wrapper chain called past its end (a wrapper called its executor twice in a row?)")
        nxt = WrapperExecutor(self.original, self.class_obj, self.wrappers, self.idx + 1)
        return nxt.execute(*args, **kwargs)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Start the chain (wrappers call the executor itself, never this)."""
        if self.is_last:
            return self.original(*args, **kwargs)
        return self.wrappers[self.idx](self, *args, **kwargs)

    @classmethod
    def new_executor(cls, original: Callable[..., Any], wrappers: list[Callable[..., Any]],
                     idx: int = 0) -> "WrapperExecutor":
        return cls(original, None, wrappers, idx)

    @classmethod
    def new_class_executor(cls, original: Callable[..., Any], class_obj: Any, wrappers: list[Callable[..., Any]],
                           idx: int = 0) -> "WrapperExecutor":
        return cls(original, class_obj, wrappers, idx)


def _registry(options: dict, name: str, is_model_options: bool) -> Registry:
    if is_model_options:
        options = options.setdefault("transformer_options", {})
    return options.setdefault(name, {})


def _flatten(by_key: dict[Any, list[Callable[..., Any]]]) -> list[Callable[..., Any]]:
    return [fn for fns in by_key.values() for fn in fns]


def add_wrapper(wrapper_type: str, wrapper: Callable[..., Any], transformer_options: dict,
                is_model_options: bool = False) -> None:
    add_wrapper_with_key(wrapper_type, None, wrapper, transformer_options, is_model_options)


def add_wrapper_with_key(wrapper_type: str, key: Any, wrapper: Callable[..., Any], transformer_options: dict,
                         is_model_options: bool = False) -> None:
    """Register `wrapper` in a transformer_options dict (or a model_options dict when
    `is_model_options`), for runs that use those options only."""
    _registry(transformer_options, "wrappers", is_model_options).setdefault(wrapper_type, {}).setdefault(key, []).append(wrapper)


def get_wrappers_with_key(wrapper_type: str, key: Any, transformer_options: dict,
                          is_model_options: bool = False) -> list[Callable[..., Any]]:
    if is_model_options:
        transformer_options = transformer_options.get("transformer_options", {})
    return transformer_options.get("wrappers", {}).get(wrapper_type, {}).get(key, [])


def get_all_wrappers(wrapper_type: str, transformer_options: dict, is_model_options: bool = False) -> list[Callable[..., Any]]:
    """Every wrapper of `wrapper_type` in the options, in registration order per key."""
    if is_model_options:
        transformer_options = transformer_options.get("transformer_options", {})
    return _flatten(transformer_options.get("wrappers", {}).get(wrapper_type, {}))


def add_callback(call_type: str, callback: Callable[..., Any], transformer_options: dict,
                 is_model_options: bool = False) -> None:
    add_callback_with_key(call_type, None, callback, transformer_options, is_model_options)


def add_callback_with_key(call_type: str, key: Any, callback: Callable[..., Any], transformer_options: dict,
                          is_model_options: bool = False) -> None:
    _registry(transformer_options, "callbacks", is_model_options).setdefault(call_type, {}).setdefault(key, []).append(callback)


def get_callbacks_with_key(call_type: str, key: Any, transformer_options: dict,
                           is_model_options: bool = False) -> list[Callable[..., Any]]:
    if is_model_options:
        transformer_options = transformer_options.get("transformer_options", {})
    return transformer_options.get("callbacks", {}).get(call_type, {}).get(key, [])


def get_all_callbacks(call_type: str, transformer_options: dict, is_model_options: bool = False) -> list[Callable[..., Any]]:
    if is_model_options:
        transformer_options = transformer_options.get("transformer_options", {})
    return _flatten(transformer_options.get("callbacks", {}).get(call_type, {}))


def copy_nested_dicts(source: dict) -> dict:
    """A copy in which every nested dict and list is new (leaves are shared)."""
    out = dict(source)
    for key, value in source.items():
        if isinstance(value, dict):
            out[key] = copy_nested_dicts(value)
        elif isinstance(value, list):
            out[key] = list(value)
    return out


def merge_nested_dicts(base: dict, extra: dict, copy_dict1: bool = True) -> dict:
    """`base` (copied unless `copy_dict1` is False) with `extra` merged in: nested dicts
    merge, lists concatenate (base's items first), other values from `extra` win."""
    merged = copy_nested_dicts(base) if copy_dict1 else base
    for key, value in extra.items():
        if isinstance(value, dict):
            current = merged.get(key)
            merged[key] = merge_nested_dicts(current if isinstance(current, dict) else {}, value)
        elif isinstance(value, list):
            merged.setdefault(key, []).extend(value)
        else:
            merged[key] = value
    return merged
