"""Links in the API prompt: `[source_node_id, output_index]` (COMPAT 3.1)."""

from __future__ import annotations

import math
from typing import Any


def is_link(value: Any) -> bool:
    """The executor's strict test: a 2-list whose first item is a str and second an index."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and _index(value[1]) is not None
    )


def link_parts(value: Any) -> tuple[str, int] | None:
    """(source_id, output_index) for a well-formed link, else None. Integral floats count
    as indices because JSON clients may send 0.0."""
    if not is_link(value):
        return None
    return value[0], _index(value[1])  # type: ignore[return-value]


def _index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and value >= 0:
        return int(value)
    return None


def node_links(inputs: Any) -> list[tuple[str, str, int]]:
    """[(input_name, source_id, output_index)] for every well-formed link of a node."""
    if not isinstance(inputs, dict):
        return []
    found = []
    for name, value in inputs.items():
        parts = link_parts(value)
        if parts is not None:
            found.append((name, parts[0], parts[1]))
    return found
