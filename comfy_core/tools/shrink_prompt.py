"""Make an API prompt cheap to run on tiny stand-in models: pixel sizes and offsets divided
by a factor (never below the input's minimum in /object_info), at most a few sampling
steps (start/end steps scaled along), megapixel targets divided by the factor squared.
Used when trying shared workflows and the workflow templates on stand-ins."""

from __future__ import annotations

PIXEL_SIZES = frozenset({"width", "height", "target_width", "target_height"})
PIXEL_OFFSETS = frozenset({"x", "y", "left", "top", "right", "bottom", "feathering"})
SHRINK = 8  # the default factor sizes and offsets in pixels are divided by
LEAST_SIDE = 16  # no shrunk size goes below this


def _shrink_value(name: str, value: object, factor: int) -> object:
    """A size or offset input's value divided by `factor`, on the 8-pixel grid."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    if name in PIXEL_SIZES and value >= 64:
        return max(LEAST_SIDE, 8 * round(value / (8 * factor)))
    if name in PIXEL_OFFSETS and value > 0:
        return 8 * round(value / (8 * factor))
    return value


def _input_min(object_info: dict, class_type: str, name: str) -> float | None:
    """The `min` option of an input in /object_info, if any."""
    groups = (object_info.get(class_type) or {}).get("input") or {}
    for group in ("required", "optional"):
        spec = (groups.get(group) or {}).get(name)
        if isinstance(spec, (list, tuple)) and len(spec) > 1 and isinstance(spec[1], dict):
            return spec[1].get("min")
    return None


def _cap_steps(inputs: dict, steps: int) -> None:
    total = inputs.get("steps")
    if isinstance(total, int) and not isinstance(total, bool) and total > steps:
        inputs["steps"] = steps
        for key in ("start_at_step", "end_at_step"):
            if isinstance(inputs.get(key), int) and inputs[key] < total:
                inputs[key] = round(inputs[key] * steps / total)


def shrink(prompt: dict, steps: int, object_info: dict, factor: int = SHRINK) -> dict:
    """The prompt shrunk as the module docstring says, in place (and returned)."""
    for node in prompt.values():
        inputs = node.get("inputs") or {}
        for key, value in list(inputs.items()):
            small = _shrink_value(key, value, factor)
            least = _input_min(object_info, node.get("class_type", ""), key) if small != value else None
            inputs[key] = max(small, least) if isinstance(least, (int, float)) else small
        _cap_steps(inputs, steps)
        if isinstance(inputs.get("megapixels"), float):
            inputs["megapixels"] = max(0.01, round(inputs["megapixels"] / factor ** 2, 2))
    return prompt
