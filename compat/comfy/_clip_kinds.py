"""ComfyUI's text-encoder classes (`comfy.sd1_clip`, `comfy.sdxl_clip`) as isinstance
targets over our CLIP pieces: packs test `isinstance(clip.cond_stage_model,
SDXLClipModel)` to choose how to encode, then call `encode_token_weights` on the stage or
on its `clip_l` / `clip_g`. A stage is of a kind by the encoders it holds; an encoder by
its role. These classes are never built here (our CLIP loaders build the real ones)."""

from __future__ import annotations

from typing import Any

from comfy_core.models.clip_value import ClipStage, EncoderSlot


class _Kind(type):
    roles: frozenset = frozenset()
    piece: type = ClipStage

    def __instancecheck__(cls, obj: Any) -> bool:
        if not isinstance(obj, cls.piece):
            return False
        if cls.piece is EncoderSlot:
            return obj.spec is not None and obj.spec.name in cls.roles
        return set(obj.encoders()) == set(cls.roles)


def kind(name: str, module: str, piece: type, roles: set[str]) -> type:
    """A class `name` whose instances are the ClipStages holding exactly `roles` (or, for
    `piece=EncoderSlot`, the encoders of one of those roles)."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"{module}.{name} is not built directly here: load text encoders with "
                                  "comfy.sd.load_clip / load_checkpoint_guess_config")

    return _Kind(name, (), {"roles": frozenset(roles), "piece": piece, "__init__": __init__,
                            "__module__": module, "__doc__": f"ComfyUI's {name} (isinstance target)."})
