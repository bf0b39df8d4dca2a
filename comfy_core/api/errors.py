"""Structured JSON errors: every bad request gets a body that says what was wrong."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


def error_body(kind: str, message: str, details: str = "", **extra: Any) -> dict:
    """ComfyUI's error object shape: {"type","message","details","extra_info"}."""
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def json_error(status: int, kind: str, message: str, details: str = "", **extra: Any
               ) -> web.Response:
    """`{"error": {...}}` with `status`."""
    return web.json_response({"error": error_body(kind, message, details, **extra)},
                             status=status)


def prompt_error(kind: str, message: str, details: str = "") -> web.Response:
    """POST /prompt's 400 shape, with the (empty) node_errors key clients expect."""
    return web.json_response({"error": error_body(kind, message, details), "node_errors": {}},
                             status=400)


async def read_json(request: web.Request, *, default: Any = None, allow_empty: bool = False
                    ) -> Any:
    """The request's JSON body; raises web.HTTPBadRequest with a JSON error when malformed.

    `allow_empty` turns an empty body into `default`."""
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return default
        raise bad_request("empty_body", "request body must be JSON")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request("invalid_json", "request body is not valid JSON", str(exc)) from None


def bad_request(kind: str, message: str, details: str = "") -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": error_body(kind, message, details)}),
                              content_type="application/json")


def int_query(request: web.Request, name: str, default: int | None = None) -> int | None:
    """An integer query parameter; 400 with a clear message when it is not one."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request("invalid_parameter", f"query parameter {name!r} must be an integer",
                          f"got {raw!r}") from None
