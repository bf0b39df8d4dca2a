"""`comfy.ldm.util`: the two helpers LDM code imports everywhere."""

from typing import Any


def exists(value: Any) -> bool:
    return value is not None


def default(value: Any, fallback: Any) -> Any:
    """`value`, or `fallback` (called when it is a function) when `value` is None."""
    if value is not None:
        return value
    return fallback() if callable(fallback) else fallback
