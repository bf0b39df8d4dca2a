"""Query-string integers: the one parser, bounded so no value reaches SQLite or arithmetic
as an integer it cannot hold (OverflowError) or a digit string Python refuses to convert."""

from __future__ import annotations

from aiohttp import web

from comfy_core.api.errors import bad_request

QUERY_INT_MIN = -(2**31)
QUERY_INT_MAX = 2**31 - 1
_MAX_DIGITS = 12


class ParamError(ValueError):
    """A query parameter is not an integer in its range; the message names it."""


def parse_int(raw: str | None, name: str, default: int | None = None, *,
              low: int = QUERY_INT_MIN, high: int = QUERY_INT_MAX) -> int | None:
    """`raw` as an int in [low, high]; `default` when absent or empty."""
    if raw is None or raw == "":
        return default
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit() or not digits.isascii():
        raise ParamError(f"{name} must be an integer, got {raw[:40]!r}")
    if len(digits.lstrip("0")) > _MAX_DIGITS or not low <= int(text) <= high:
        raise ParamError(f"{name} must be between {low} and {high}, got {raw[:40]!r}")
    return int(text)


def int_query(request: web.Request, name: str, default: int | None = None, *,
              low: int = QUERY_INT_MIN, high: int = QUERY_INT_MAX) -> int | None:
    """An integer query parameter; 400 in ComfyUI's error shape when it is not one."""
    try:
        return parse_int(request.query.get(name), name, default, low=low, high=high)
    except ParamError as exc:
        raise bad_request("invalid_parameter", str(exc)) from None
