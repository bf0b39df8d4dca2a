"""The MODEL value (and the `patcher` inside CLIP and VAE values): a module shared by all
clones plus what is specific to this value, with ComfyUI's ModelPatcher interface
(COMPAT-PLUGINS 3.9) because plugins call it directly and subclass it.

What a patcher owns: weight patches (`patches`, ComfyUI's patch tuples, see
`patch_math`), object patches (attribute swaps such as `model_sampling`), `model_options`
(UNet patches, cfg hooks; `patcher_hooks`) and the extension registries. The module, its
placement and the state currently in place are shared (`weights.ManagedWeights`).

The memory manager drives a patcher through one protocol: `model_size()`, `loaded_size()`,
`load(device, budget_bytes)`, `offload()`, `device`. `load` is the moment this patcher's
patches (and not a clone's) are put in place; until then `loaded_size()` is 0 and `device`
is the offload device, so the manager knows to call it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import uuid
from typing import Any, Iterator

import torch
from torch import nn

from comfy_core.models import patch_math
from comfy_core.models.patcher_hooks import PatchPoints, Registries
from comfy_core.models.weights import ManagedWeights, PatchState, weights_of
from comfy_core.patching import model_options as mo
from comfy_core.patching.extension import CallbacksMP

log = logging.getLogger(__name__)


class ModelPatcher(PatchPoints, Registries):
    """`ModelPatcher(model, load_device, offload_device, size=0, weight_inplace_update=False)`;
    `model` is a BaseModel for diffusion models, any module for CLIP/VAE."""

    def __init__(self, model: nn.Module, load_device: torch.device | str | None,
                 offload_device: torch.device | str | None, size: int = 0,
                 weight_inplace_update: bool = False) -> None:
        self.model = model
        self.weights: ManagedWeights = weights_of(model, offload_device)
        self.load_device = torch.device(load_device) if load_device is not None else self.weights.offload_device
        self.offload_device = torch.device(offload_device) if offload_device is not None else self.weights.offload_device
        self.size = size
        self.weight_inplace_update = weight_inplace_update
        self.patches: dict[str, list[tuple]] = {}
        self.object_patches: dict[str, Any] = {}
        self.model_options: dict = mo.new_model_options()
        self.patches_uuid: Any = uuid.uuid4()
        self.parent: ModelPatcher | None = None
        self.wrappers: dict = {}
        self.callbacks: dict = {}
        self.attachments: dict = {}
        self.additional_models: dict = {}
        self.injections: dict = {}
        self.is_injected = False
        self.skip_injection = False
        self.is_clip = False
        self.compute_dtype: torch.dtype | None = getattr(model, "manual_cast_dtype", None) or self.weights.compute_dtype
        if not hasattr(model, "device"):
            model.device = self.weights.device

    # ---- shared state, seen through this patcher ---------------------------------------

    @property
    def backup(self) -> dict[str, patch_math.WeightBackup]:
        """Originals of the patched tensors of the state in place (shared by clones)."""
        return self.weights.backups

    @property
    def object_patches_backup(self) -> dict[str, Any]:
        return self.weights.object_backups

    def patch_state(self) -> PatchState:
        injections = [i for group in self.injections.values() for i in group]
        cls = type(self)
        return PatchState(self.patches, self.patches_uuid, dict(self.object_patches), injections, self,
                          self.patch_weight_to_device if cls.patch_weight_to_device is not _PATCH_KEY else None,
                          self.unpatch_model if cls.unpatch_model is not _UNPATCH else None)

    def is_current(self) -> bool:
        """Whether this patcher's patches are the ones in place in the shared module."""
        return self.patch_state().same_as(self.weights.applied)

    # ---- memory protocol ---------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """Where the model computes for this patcher now (its offload device until loaded)."""
        return self.weights.device if self.is_current() else self.offload_device

    def model_size(self) -> int:
        if self.size > 0:
            return self.size
        self.size = self.weights.model_size()
        return self.size

    def loaded_size(self) -> int:
        return self.weights.loaded_bytes if self.is_current() else 0

    def lowvram_patch_counter(self) -> int:
        """Patches applied lazily per layer: none (streamed layers read patched host copies)."""
        return 0

    def current_loaded_device(self) -> torch.device:
        return self.weights.device

    def load(self, device_to: torch.device | str | None = None, budget_bytes: int | None = None,
             force_patch_weights: bool = False, full_load: bool = False, *,
             lowvram_model_memory: int | None = None) -> None:
        """Put this patcher's state in place and its weights on `device_to` (default the load
        device): all of them, or `budget_bytes` worth with the rest streamed per layer.
        ComfyUI's `lowvram_model_memory` (0: everything) is accepted in its place."""
        device = torch.device(device_to) if device_to is not None else self.load_device
        if lowvram_model_memory is not None and budget_bytes is None:
            budget_bytes = lowvram_model_memory or None
        if full_load:
            budget_bytes = None
        self.weights.compute_dtype = self.compute_dtype
        self.weights.load(device, budget_bytes, self.patch_state())
        self.is_injected = bool(self.injections)
        if hasattr(self.model, "current_patcher"):
            self.model.current_patcher = self
        self.model_patches_to(device)
        self.model_patches_to(self.model_dtype())
        for callback in self.get_all_callbacks(CallbacksMP.ON_LOAD):
            callback(self, device, budget_bytes or 0, force_patch_weights, budget_bytes is None)

    def offload(self) -> None:
        """Weights back to the offload device (the patch state stays in place)."""
        self.weights.offload()

    def patch_model(self, device_to: torch.device | str | None = None, lowvram_model_memory: int = 0,
                    load_weights: bool = True, force_patch_weights: bool = False) -> nn.Module:
        """Put this patcher in place (on `device_to` when `load_weights`); returns the model."""
        if load_weights:
            self.load(device_to, lowvram_model_memory=lowvram_model_memory, force_patch_weights=force_patch_weights)
        elif not self.is_current():
            self.weights.remove_state()
            self.weights.put_state(self.patch_state())
            self.is_injected = bool(self.injections)
        return self.model

    def unpatch_model(self, device_to: torch.device | str | None = None, unpatch_weights: bool = True) -> None:
        """Undo the state in place (weights, objects, injections); offload when `device_to`."""
        if unpatch_weights:
            self.weights.remove_state()
            self.is_injected = False
        if device_to is not None:
            self.weights.offload()

    def detach(self, unpatch_all: bool = True) -> nn.Module:
        self.model_patches_to(self.offload_device)
        if unpatch_all:
            self.unpatch_model(self.offload_device, unpatch_weights=True)
        for callback in self.get_all_callbacks(CallbacksMP.ON_DETACH):
            callback(self, unpatch_all)
        return self.model

    def partially_load(self, device_to: torch.device | str, extra_memory: int = 0,
                       force_patch_weights: bool = False) -> int:
        """Grow the resident weights by up to `extra_memory` bytes; returns the growth."""
        before = self.loaded_size()
        budget = before + int(extra_memory)
        self.load(device_to, None if budget >= self.model_size() else budget, force_patch_weights)
        return self.loaded_size() - before

    def partially_unload(self, device_to: torch.device | str, memory_to_free: int = 0) -> int:
        """Stream `memory_to_free` more bytes from the offload device; returns bytes freed."""
        before = self.loaded_size()
        self.load(self.weights.device, max(0, before - int(memory_to_free)))
        return before - self.loaded_size()

    def model_dtype(self) -> torch.dtype | None:
        if hasattr(self.model, "get_dtype"):
            return self.model.get_dtype()
        return self.weights.storage_dtype()

    def set_model_compute_dtype(self, dtype: torch.dtype | None) -> None:
        """Compute in `dtype` whatever the storage dtype (weights cast per layer). This
        patcher's setting: the model's `manual_cast_dtype` is an object patch and the
        weights take the dtype whenever this patcher loads (clones keep their own)."""
        self.compute_dtype = dtype
        self.weights.compute_dtype = dtype
        if hasattr(self.model, "manual_cast_dtype"):
            self.add_object_patch("manual_cast_dtype", dtype)

    def memory_required(self, input_shape: Any) -> int:
        return self.model.memory_required(input_shape=input_shape)

    # ---- clones ------------------------------------------------------------------------

    def clone(self) -> "ModelPatcher":
        """Same module and weights; copied patch lists, object patches and registries;
        deep-copied model_options. Built through `self.__class__`, so subclasses survive."""
        twin = self.__class__(self.model, self.load_device, self.offload_device, self.size,
                              weight_inplace_update=self.weight_inplace_update)
        twin.patches = {k: list(v) for k, v in self.patches.items()}
        twin.patches_uuid = self.patches_uuid
        twin.object_patches = dict(self.object_patches)
        twin.model_options = copy.deepcopy(self.model_options)
        twin.parent = self
        twin.is_clip = self.is_clip
        twin.weights = self.weights
        twin.compute_dtype = self.compute_dtype
        self._copy_registries_to(twin)
        twin.is_injected, twin.skip_injection = self.is_injected, self.skip_injection
        for callback in self.get_all_callbacks(CallbacksMP.ON_CLONE):
            callback(self, twin)
        return twin

    def is_clone(self, other: Any) -> bool:
        return getattr(other, "model", None) is self.model

    def clone_has_same_weights(self, clone: "ModelPatcher") -> bool:
        if not self.is_clone(clone) or self.injections.keys() != clone.injections.keys():
            return False
        if not self.patches and not clone.patches:
            return True
        return self.patches_uuid == clone.patches_uuid

    def shares_weights(self, other: Any) -> bool:
        """True for clones of one model (they occupy memory once)."""
        return self.weights is getattr(other, "weights", None)

    # ---- weight patches ----------------------------------------------------------------

    def add_patches(self, patches: dict, strength_patch: float = 1.0, strength_model: float = 1.0) -> list:
        """Append `(strength_patch, value, strength_model, offset, function)` for every key
        of `patches` that names a state-dict entry (`"key"` or `(key, offset[, function])`);
        returns the keys accepted. Takes effect at the next load."""
        known = self.model.state_dict(keep_vars=True).keys()
        accepted = []
        for k in patches:
            key, offset, function = (k, None, None) if isinstance(k, str) else (k[0], k[1], k[2] if len(k) > 2 else None)
            if key in known:
                accepted.append(k)
                self.patches.setdefault(key, []).append((strength_patch, patches[k], strength_model, offset, function))
        self.patches_uuid = uuid.uuid4()
        return accepted

    def get_key_patches(self, filter_prefix: str | None = None) -> dict[str, list]:
        """`{key: [(original, convert_fn)] + patches}`: what another model's `add_patches`
        takes to merge this one's (patched) weights."""
        out = {}
        for key in self.model.state_dict(keep_vars=True):
            if filter_prefix is not None and not key.startswith(filter_prefix):
                continue
            out[key] = [(self.weights.original(key), patch_math.identity)] + list(self.patches.get(key, []))
        return out

    def model_state_dict(self, filter_prefix: str | None = None) -> dict[str, torch.Tensor]:
        sd = self.model.state_dict()
        if filter_prefix is not None:
            sd = {k: v for k, v in sd.items() if k.startswith(filter_prefix)}
        return sd

    def patch_weight_to_device(self, key: str, device_to: torch.device | str | None = None,
                               inplace_update: bool = False) -> None:
        """Apply this patcher's patches of one key now (they are otherwise applied at load)."""
        if key in self.patches:
            self.weights.patch_key(key, self.patches[key])

    # ---- object patches ----------------------------------------------------------------

    def add_object_patch(self, name: str, obj: Any) -> None:
        """Swap dotted attribute `name` of the model for `obj` while this patcher is loaded."""
        self.object_patches[name] = obj

    def get_model_object(self, name: str) -> Any:
        """This patcher's object patch, else the unpatched attribute."""
        if name in self.object_patches:
            return self.object_patches[name]
        if name in self.weights.object_backups:
            return self.weights.object_backups[name]
        return patch_math.get_attr(self.model, name)

    # ---- lifecycle around sampling ------------------------------------------------------

    def model_patches_to(self, target: torch.device | torch.dtype | None) -> None:
        if target is not None:
            mo.move_patches_to(self.model_options, target)

    def model_patches_models(self) -> list[Any]:
        """Extra patchers that patch objects in `model_options` need loaded (`models()`)."""
        return [m for p in mo.patch_objects(self.model_options) if hasattr(p, "models") for m in p.models()]

    def pre_run(self) -> None:
        if hasattr(self.model, "current_patcher"):
            self.model.current_patcher = self
        for callback in self.get_all_callbacks(CallbacksMP.ON_PRE_RUN):
            callback(self)

    def prepare_state(self, timestep: Any) -> None:
        for callback in self.get_all_callbacks(CallbacksMP.ON_PREPARE_STATE):
            callback(self, timestep)

    def cleanup(self) -> None:
        for callback in self.get_all_callbacks(CallbacksMP.ON_CLEANUP):
            callback(self)

    def inject_model(self) -> None:
        """Injections are put in place by `load` with the rest of the state; this re-runs
        them for plugins that call it directly."""
        if self.is_injected or self.skip_injection:
            return
        for group in self.injections.values():
            for injection in group:
                injection.inject(self)
        self.is_injected = True
        for callback in self.get_all_callbacks(CallbacksMP.ON_INJECT_MODEL):
            callback(self)

    def eject_model(self) -> None:
        if not self.is_injected:
            return
        for group in self.injections.values():
            for injection in group:
                injection.eject(self)
        self.is_injected = False
        for callback in self.get_all_callbacks(CallbacksMP.ON_EJECT_MODEL):
            callback(self)

    @contextlib.contextmanager
    def use_ejected(self, skip_and_inject_on_exit_only: bool = False) -> Iterator[None]:
        was = self.is_injected
        self.eject_model()
        try:
            yield
        finally:
            if was or skip_and_inject_on_exit_only:
                self.inject_model()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.model).__name__}, patches={len(self.patches)})"


# The base implementations; a plugin subclass overriding them takes over those steps (PatchState).
_PATCH_KEY = ModelPatcher.patch_weight_to_device
_UNPATCH = ModelPatcher.unpatch_model
