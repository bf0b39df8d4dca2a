"""Socket type compatibility between a producer's RETURN_TYPES entry and an input type."""

from __future__ import annotations

from typing import Any

ANY = "*"
MATCHTYPE = "COMFY_MATCHTYPE_V3"  # a V3 output whose type the editor resolves from its links


def types_compatible(received: Any, expected: Any) -> bool:
    """True when an output of type `received` may feed an input of type `expected`:
    equal, either side "*", a list output into a COMBO input, a V3 MatchType output (its
    concrete type is only known in the editor), or overlapping comma-separated unions
    ("FLOAT,INT")."""
    # `not a != b` on purpose: plugin wildcard types are str subclasses whose __ne__
    # always answers False, and they rely on that to match everything.
    if not received != expected:
        return True
    if isinstance(received, (list, tuple)) and expected == "COMBO":
        return True
    if received in (ANY, MATCHTYPE) or expected == ANY:
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    got = {t.strip() for t in received.split(",")}
    want = {t.strip() for t in expected.split(",")}
    return ANY in got or ANY in want or bool(got & want)
