"""The dict face of a resolved conditioning entry. ComfyUI hands plugins each resolved
entry as a dict (its options plus `cross_attn`, `model_conds`, `control`, `area`, `mask`,
`strength`, `uuid`, ...); packs that run the model on parts of a batch (AnimateDiff's
context windows) copy such a dict, slice the tensors in it and in its `model_conds`, and
pass the copies on to `calc_cond_batch`. `ResolvedCond` keeps typed fields; this mixin
maps reads and writes of those keys onto them, so a pack's sliced copy is what we batch."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterator

from comfy_core.sampling.model_conds import CONDCrossAttn, CONDNoiseShape, CONDRegular

RESOLVED_KEYS = frozenset({"control", "uuid", "area", "mask", "mask_strength", "strength", "gligen",
                           "control_apply_to_uncond"})
_VIEW_KEYS = ("cross_attn", "model_conds")
# model_conds key -> ResolvedCond field and its wrapper class
_MODEL_FIELDS = {"c_crossattn": ("cross_attn", CONDCrossAttn), "y": ("y", CONDRegular),
                 "c_concat": ("concat", CONDNoiseShape)}


class CondDictView:
    """Mixin for `ResolvedCond` (a frozen dataclass with `options` and `extra_conds`)."""

    def model_conds(self) -> dict[str, CONDRegular]:
        """The model call's inputs of this entry as ComfyUI's wrappers (fresh objects)."""
        out: dict[str, CONDRegular] = {}
        for key, (name, cls) in _MODEL_FIELDS.items():
            value = getattr(self, name)
            if value is not None:
                out[key] = cls(value)
        out.update(self.extra_conds or {})
        return out

    def get(self, key: str, default: Any = None) -> Any:
        """The value under `key` (plugins read cond entries as dicts)."""
        return self[key] if key in self else default

    def __getitem__(self, key: str) -> Any:
        if key == "model_conds":
            return self.model_conds()
        if key == "cross_attn" or key in RESOLVED_KEYS:
            return getattr(self, key)
        return self.options[key]

    def __contains__(self, key: object) -> bool:
        if key in _VIEW_KEYS:
            return True
        if key in RESOLVED_KEYS:
            return getattr(self, str(key)) is not None
        return key in self.options

    def keys(self) -> list[str]:
        return [*_VIEW_KEYS, *(k for k in sorted(RESOLVED_KEYS) if getattr(self, k) is not None),
                *(k for k in self.options if k not in RESOLVED_KEYS and k not in _VIEW_KEYS)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self[k]) for k in self.keys()]

    def copy(self) -> Any:
        """A shallow copy that can be edited without touching this entry (dict.copy)."""
        return replace(self, options=dict(self.options))

    def __setitem__(self, key: str, value: Any) -> None:
        """Replace one input of this entry (on a plugin's own copy, as with ComfyUI's dicts)."""
        if key == "model_conds":
            self._set_model_conds(value)
        elif key == "cross_attn" or key in RESOLVED_KEYS:
            object.__setattr__(self, key, value)
        else:
            self.options[key] = value

    def _set_model_conds(self, conds: dict[str, Any]) -> None:
        extra = {}
        for key, value in conds.items():
            if key in _MODEL_FIELDS:
                object.__setattr__(self, _MODEL_FIELDS[key][0], value.cond)
            else:
                extra[key] = value
        for key, (name, _cls) in _MODEL_FIELDS.items():
            if key not in conds and name != "cross_attn":
                object.__setattr__(self, name, None)
        object.__setattr__(self, "extra_conds", extra or None)
