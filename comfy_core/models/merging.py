"""Model and text-encoder merging through weight patches, exactly as ComfyUI merges: the
result is a clone of the first value with, for every weight of the second, a patch
`(strength_patch, model2's key patches, strength_model)`, so that at load time

    W = strength_model · W₁ + strength_patch · W₂

with W₂ the second value's own patched weight (LoRAs included). Nothing is computed until
the merged value loads, and merging two clones of one checkpoint costs no memory.

- simple (ratio r): W = r·W₁ + (1 − r)·W₂
- blocks: r chosen per key by the longest matching UNet key prefix (else the first ratio)
- subtract (m): W = m·W₁ − m·W₂;  add: W = W₁ + W₂
Text-encoder merges leave `position_ids` and `logit_scale` alone.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

UNET = "diffusion_model."
_CLIP_SKIPPED = (".position_ids", ".logit_scale")
Strengths = Callable[[str], tuple[float, float]]  # key -> (strength_patch, strength_model)


def _merge(first: Any, key_patches: Mapping[str, list], strengths: Strengths) -> Any:
    merged = first.clone()
    for key, patches in key_patches.items():
        patch, model = strengths(key)
        merged.add_patches({key: patches}, patch, model)
    return merged


def _ratio(ratio: float) -> Strengths:
    return lambda _key: (1.0 - ratio, ratio)


def _subtract(multiplier: float) -> Strengths:
    return lambda _key: (-multiplier, multiplier)


def _add(_key: str) -> tuple[float, float]:
    return (1.0, 1.0)


def block_ratios(ratios: Mapping[str, float]) -> Strengths:
    """The ratio of the longest prefix in `ratios` that the UNet key (without
    `diffusion_model.`) starts with; keys no prefix matches take the first ratio."""
    default = next(iter(ratios.values()))

    def strengths(key: str) -> tuple[float, float]:
        name, ratio, best = key[len(UNET):], default, 0
        for prefix, value in ratios.items():
            if name.startswith(prefix) and len(prefix) > best:
                ratio, best = value, len(prefix)
        return (1.0 - ratio, ratio)

    return strengths


def merge_models(model1: Any, model2: Any, strengths: Strengths) -> Any:
    """MODEL merge over the UNet weights."""
    return _merge(model1, model2.get_key_patches(UNET), strengths)


def merge_clips(clip1: Any, clip2: Any, strengths: Strengths) -> Any:
    """CLIP merge over the text-encoder weights."""
    patches = {k: v for k, v in clip2.get_key_patches().items() if not k.endswith(_CLIP_SKIPPED)}
    return _merge(clip1, patches, strengths)


def model_merge_simple(model1: Any, model2: Any, ratio: float) -> Any:
    return merge_models(model1, model2, _ratio(ratio))


def model_subtract(model1: Any, model2: Any, multiplier: float) -> Any:
    return merge_models(model1, model2, _subtract(multiplier))


def model_add(model1: Any, model2: Any) -> Any:
    return merge_models(model1, model2, _add)


def clip_merge_simple(clip1: Any, clip2: Any, ratio: float) -> Any:
    return merge_clips(clip1, clip2, _ratio(ratio))


def clip_subtract(clip1: Any, clip2: Any, multiplier: float) -> Any:
    return merge_clips(clip1, clip2, _subtract(multiplier))


def clip_add(clip1: Any, clip2: Any) -> Any:
    return merge_clips(clip1, clip2, _add)
