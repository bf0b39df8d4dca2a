"""Hooks: patches that ride along with conditioning or a ControlNet instead of living on
the MODEL (ComfyUI's `comfy.hooks`, COMPAT-PLUGINS 3.21).

Supported here: `WrapperHook` (extension wrappers registered into the sampling run's
`model_options`) in `HookGroup`s attached to ControlNets as `extra_hooks`, which is what
ControlNet packs use (e.g. a reference ControlNet adding an outer-sample wrapper). The
guider registers them when a run starts (`register_control_hooks`). Weight, object-patch
and keyframed hooks on conditioning (ComfyUI's "hook LoRA" nodes) are not supported: a
`hooks` entry on a cond is left unused.
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Iterable

from comfy_core.patching.extension import merge_nested_dicts
from comfy_core.patching.model_options import TRANSFORMER_OPTIONS


class EnumHookMode(enum.Enum):
    MinVram = "minvram"
    MaxSpeed = "maxspeed"


class EnumHookType(enum.Enum):
    Weight = "weight"
    ObjectPatch = "object_patch"
    AdditionalModels = "add_models"
    TransformerOptions = "transformer_options"
    Injections = "add_injections"


class EnumWeightTarget(enum.Enum):
    Model = "model"
    Clip = "clip"


class EnumHookScope(enum.Enum):
    AllConditioning = "all_conditioning"
    HookedOnly = "hooked_only"


class Hook:
    """A hook of some type; `custom_should_register(hook, model, model_options, target_dict,
    registered)` may veto its registration (e.g. when an equal wrapper is already there)."""

    def __init__(self, hook_type: EnumHookType = EnumHookType.Weight, hook_ref: Any = None,
                 hook_id: Any = None, hook_keyframe: Any = None,
                 hook_scope: EnumHookScope = EnumHookScope.AllConditioning) -> None:
        self.hook_type = hook_type
        self.hook_ref = hook_ref if hook_ref is not None else object()
        self.hook_id = hook_id
        self.hook_keyframe = hook_keyframe
        self.hook_scope = hook_scope
        self.custom_should_register: Callable[..., bool] = lambda *args: True

    @property
    def strength(self) -> float:
        return 1.0

    def should_register(self, model: Any, model_options: dict, target_dict: dict, registered: Any) -> bool:
        return bool(self.custom_should_register(self, model, model_options, target_dict, registered))

    def add_hook_patches(self, model: Any, model_options: dict, target_dict: dict, registered: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} hooks are not supported by this server")

    def clone(self) -> "Hook":
        twin = self.__class__.__new__(self.__class__)
        twin.__dict__.update(self.__dict__)
        return twin

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hook) and self.__class__ is other.__class__ and self.hook_ref is other.hook_ref

    def __hash__(self) -> int:
        return hash(id(self.hook_ref))


class WrapperHook(Hook):
    """Extension wrappers (`{type: {key: [fn]}}`, as `add_wrapper_with_key` builds them)
    added to the sampling run's options."""

    def __init__(self, wrappers_dict: dict | None = None) -> None:
        super().__init__(hook_type=EnumHookType.TransformerOptions)
        self.wrappers_dict = wrappers_dict or {}

    def add_hook_patches(self, model: Any, model_options: dict, target_dict: dict, registered: Any) -> None:
        if not self.should_register(model, model_options, target_dict, registered):
            return
        to = model_options.setdefault(TRANSFORMER_OPTIONS, {})
        to["wrappers"] = merge_nested_dicts(to.get("wrappers", {}), self.wrappers_dict.get("wrappers", {}))
        if registered is not None:
            registered.add(self)


class HookGroup:
    """An ordered set of hooks (what conditioning or a ControlNet carries)."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []

    def add(self, hook: Hook) -> None:
        if hook not in self.hooks:
            self.hooks.append(hook)

    def contains(self, hook: Hook) -> bool:
        return hook in self.hooks

    def is_empty(self) -> bool:
        return not self.hooks

    def get_type(self, hook_type: EnumHookType) -> list[Hook]:
        return [h for h in self.hooks if h.hook_type == hook_type]

    def clone(self) -> "HookGroup":
        twin = HookGroup()
        for hook in self.hooks:
            twin.add(hook.clone())
        return twin

    def clone_and_combine(self, other: "HookGroup") -> "HookGroup":
        twin = self.clone()
        for hook in other.hooks if other is not None else ():
            twin.add(hook.clone())
        return twin

    @staticmethod
    def combine_all_hooks(groups: Iterable["HookGroup | None"], require_count: int = 0) -> "HookGroup | None":
        present = [g for g in groups if g is not None]
        if len(present) < require_count or not present:
            return None
        out = present[0]
        for group in present[1:]:
            out = out.clone_and_combine(group)
        return out


class _Registered:
    """Hooks registered in one run (ComfyUI passes a HookGroup; a set of hooks here)."""

    def __init__(self) -> None:
        self.hooks: set[Hook] = set()

    def add(self, hook: Hook) -> None:
        self.hooks.add(hook)

    def contains(self, hook: Hook) -> bool:
        return hook in self.hooks

    def __contains__(self, hook: Hook) -> bool:
        return hook in self.hooks


def register_control_hooks(controls: Iterable[Any], model: Any, model_options: dict) -> None:
    """Register the wrapper hooks of each ControlNet chain's `extra_hooks` into this run's
    `model_options` (other hook types are not supported and are skipped)."""
    registered = _Registered()
    for control in controls:
        for group in control.get_extra_hooks() if hasattr(control, "get_extra_hooks") else ():
            for hook in group.get_type(EnumHookType.TransformerOptions):
                hook.add_hook_patches(model, model_options, {}, registered)
