"""The hook side of a MODEL: the `set_model_*` setters writing `model_options`
(COMPAT-PLUGINS 3.9's table) and the registries of wrappers, callbacks, attachments,
additional models and injections (3.20). Mixed into `ModelPatcher`; call the setters on a
clone (they change this patcher's options only, never the original's)."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from comfy_core.patching import model_options as mo
from comfy_core.patching.extension import PatcherInjection, WrappersMP, get_all_wrappers


class PatchPoints:
    """Setters over `self.model_options` (a dict, see `comfy_core.patching.model_options`)."""

    model_options: dict

    # ---- sampler hooks ---------------------------------------------------------------

    def set_model_sampler_cfg_function(self, sampler_cfg_function: Callable[..., Any],
                                       disable_cfg1_optimization: bool = False) -> None:
        """`fn(args) -> cond − cfg result` replacing CFG; a legacy `fn(cond, uncond, scale)`
        is adapted."""
        fn = sampler_cfg_function
        if len(inspect.signature(fn).parameters) == 3:
            legacy = fn

            def fn(args: dict) -> Any:  # noqa: F811 (the adapted form)
                return legacy(args["cond"], args["uncond"], args["cond_scale"])
        self.model_options[mo.CFG_FUNCTION] = fn
        if disable_cfg1_optimization:
            self.model_options[mo.DISABLE_CFG1_OPTIMIZATION] = True

    def set_model_sampler_post_cfg_function(self, post_cfg_function: Callable[[dict], Any],
                                            disable_cfg1_optimization: bool = False) -> None:
        self.model_options = mo.set_model_options_post_cfg_function(self.model_options, post_cfg_function,
                                                                    disable_cfg1_optimization)

    def set_model_sampler_pre_cfg_function(self, pre_cfg_function: Callable[[dict], Any],
                                           disable_cfg1_optimization: bool = False) -> None:
        self.model_options = mo.set_model_options_pre_cfg_function(self.model_options, pre_cfg_function,
                                                                   disable_cfg1_optimization)

    def set_model_sampler_calc_cond_batch_function(self, fn: Callable[[dict], Any]) -> None:
        self.model_options[mo.CALC_COND_BATCH_FUNCTION] = fn

    def set_model_unet_function_wrapper(self, unet_wrapper_function: Callable[..., Any]) -> None:
        self.model_options[mo.MODEL_FUNCTION_WRAPPER] = unet_wrapper_function

    def set_model_denoise_mask_function(self, denoise_mask_function: Callable[..., Any]) -> None:
        self.model_options[mo.DENOISE_MASK_FUNCTION] = denoise_mask_function

    # ---- UNet patches ------------------------------------------------------------------

    def set_model_patch(self, patch: Any, name: str) -> None:
        mo.add_model_patch(self.model_options, patch, name)

    def set_model_patch_replace(self, patch: Any, name: str, block_name: str, number: int,
                                transformer_index: int | None = None) -> None:
        self.model_options = mo.set_model_options_patch_replace(self.model_options, patch, name, block_name,
                                                                number, transformer_index)

    def set_model_attn1_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn1_patch")

    def set_model_attn2_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn2_patch")

    def set_model_attn1_replace(self, patch: Any, block_name: str, number: int,
                                transformer_index: int | None = None) -> None:
        self.set_model_patch_replace(patch, "attn1", block_name, number, transformer_index)

    def set_model_attn2_replace(self, patch: Any, block_name: str, number: int,
                                transformer_index: int | None = None) -> None:
        self.set_model_patch_replace(patch, "attn2", block_name, number, transformer_index)

    def set_model_attn1_output_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn1_output_patch")

    def set_model_attn2_output_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "attn2_output_patch")

    def set_model_input_block_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "input_block_patch")

    def set_model_input_block_patch_after_skip(self, patch: Any) -> None:
        self.set_model_patch(patch, "input_block_patch_after_skip")

    def set_model_output_block_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "output_block_patch")

    def set_model_emb_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "emb_patch")

    def set_model_forward_timestep_embed_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "forward_timestep_embed_patch")

    def set_model_double_block_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "double_block")

    def set_model_post_input_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "post_input")

    def set_model_noise_refiner_patch(self, patch: Any) -> None:
        self.set_model_patch(patch, "noise_refiner")

    def set_model_rope_options(self, scale_x: float, shift_x: float, scale_y: float, shift_y: float,
                               scale_t: float, shift_t: float, **kwargs: Any) -> None:
        rope = {"scale_x": scale_x, "shift_x": shift_x, "scale_y": scale_y, "shift_y": shift_y,
                "scale_t": scale_t, "shift_t": shift_t, **kwargs}
        self.model_options.setdefault(mo.TRANSFORMER_OPTIONS, {})["rope_options"] = rope


class Registries:
    """Wrappers, callbacks, attachments, additional models and injections of a patcher:
    `{type: {key | None: [fn]}}` dicts copied on clone."""

    wrappers: dict
    callbacks: dict
    attachments: dict
    additional_models: dict
    injections: dict

    def add_wrapper(self, wrapper_type: str, wrapper: Callable[..., Any]) -> None:
        self.add_wrapper_with_key(wrapper_type, None, wrapper)

    def add_wrapper_with_key(self, wrapper_type: str, key: Any, wrapper: Callable[..., Any]) -> None:
        self.wrappers.setdefault(wrapper_type, {}).setdefault(key, []).append(wrapper)

    def remove_wrappers_with_key(self, wrapper_type: str, key: Any) -> None:
        self.wrappers.get(wrapper_type, {}).pop(key, None)

    def get_wrappers(self, wrapper_type: str, key: Any) -> list[Callable[..., Any]]:
        return self.wrappers.get(wrapper_type, {}).get(key, [])

    def get_all_wrappers(self, wrapper_type: str) -> list[Callable[..., Any]]:
        return get_all_wrappers(wrapper_type, {"wrappers": self.wrappers})

    def add_callback(self, callback_type: str, callback: Callable[..., Any]) -> None:
        self.add_callback_with_key(callback_type, None, callback)

    def add_callback_with_key(self, callback_type: str, key: Any, callback: Callable[..., Any]) -> None:
        self.callbacks.setdefault(callback_type, {}).setdefault(key, []).append(callback)

    def remove_callbacks_with_key(self, callback_type: str, key: Any) -> None:
        self.callbacks.get(callback_type, {}).pop(key, None)

    def get_callbacks(self, callback_type: str, key: Any) -> list[Callable[..., Any]]:
        return self.callbacks.get(callback_type, {}).get(key, [])

    def get_all_callbacks(self, callback_type: str) -> list[Callable[..., Any]]:
        return [fn for fns in self.callbacks.get(callback_type, {}).values() for fn in fns]

    def set_attachments(self, key: str, attachment: Any) -> None:
        self.attachments[key] = attachment

    def remove_attachments(self, key: str) -> None:
        self.attachments.pop(key, None)

    def get_attachment(self, key: str) -> Any:
        return self.attachments.get(key)

    def set_injections(self, key: str, injections: list[PatcherInjection]) -> None:
        self.injections[key] = injections

    def remove_injections(self, key: str) -> None:
        self.injections.pop(key, None)

    def get_injections(self, key: str) -> list[PatcherInjection] | None:
        return self.injections.get(key)

    def set_additional_models(self, key: str, models: list[Any]) -> None:
        """Extra patchers loaded with this one for sampling (e.g. a ControlNet's)."""
        self.additional_models[key] = models

    def remove_additional_models(self, key: str) -> None:
        self.additional_models.pop(key, None)

    def get_additional_models_with_key(self, key: str) -> list[Any]:
        return self.additional_models.get(key, [])

    def get_additional_models(self) -> list[Any]:
        return [m for models in self.additional_models.values() for m in models]

    def get_nested_additional_models(self) -> list[Any]:
        """Additional models, and theirs, depth first."""
        out: list[Any] = []
        for model in self.get_additional_models():
            out.append(model)
            out.extend(model.get_nested_additional_models())
        return out

    def _copy_registries_to(self, other: "Registries") -> None:
        other.wrappers = {t: {k: list(v) for k, v in by_key.items()} for t, by_key in self.wrappers.items()}
        other.callbacks = {t: {k: list(v) for k, v in by_key.items()} for t, by_key in self.callbacks.items()}
        other.attachments = {k: (a.on_model_patcher_clone() if hasattr(a, "on_model_patcher_clone") else a)
                             for k, a in self.attachments.items()}
        other.additional_models = {k: [m.clone() for m in models] for k, models in self.additional_models.items()}
        other.injections = {k: list(v) for k, v in self.injections.items()}


__all__ = ["PatchPoints", "Registries", "WrappersMP"]
