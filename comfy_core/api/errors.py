"""Structured JSON errors: every bad request gets a body that says what was wrong."""

from __future__ import annotations

import errno
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


STORAGE_RETRY_AFTER_S = 10
# A file write that failed because the disk (or the user's quota) is full, or it is
# mounted read-only: the server's storage, not the request, is at fault.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def is_storage_full(exc: BaseException) -> bool:
    """Whether `exc` is a file write refused for lack of space (or a read-only disk)."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def storage_unavailable(exc: Exception, **body: Any) -> web.Response:
    """503 for storage that cannot be written now (the job database, an upload, a user
    file: disk full...); `body` adds keys (POST /prompt adds its empty node_errors).
    Clients may retry after Retry-After."""
    message = str(exc)
    if isinstance(exc, OSError) and exc.filename:
        message = f"cannot write {exc.filename}: {exc.strerror}"
    error = error_body("storage_unavailable", message,
                       "free disk space (or fix the I/O error); the server keeps running and "
                       "accepts writes again once there is room")
    return web.json_response({"error": error, **body}, status=503,
                             headers={"Retry-After": str(STORAGE_RETRY_AFTER_S)})


def prompt_error(kind: str, message: str, details: str = "", *, status: int = 400
                 ) -> web.Response:
    """POST /prompt's error shape, with the (empty) node_errors key clients expect."""
    return web.json_response({"error": error_body(kind, message, details), "node_errors": {}},
                             status=status)


# Deeper than any real prompt or workflow (nested subgraphs included), shallow enough that
# every later recursive step (json.dumps into the store, validation, copies) stays far from
# Python's recursion limit.
MAX_JSON_DEPTH = 128


class JsonBodyError(ValueError):
    """A JSON text we refuse: malformed, nested too deeply or with an oversized integer."""

    def __init__(self, kind: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.kind, self.message, self.details = kind, message, details


def parse_json(raw: bytes | str) -> Any:
    """The one JSON reader for anything a client sends (bodies, websocket messages, form
    fields). Raises JsonBodyError naming what is wrong; never RecursionError or a bare
    ValueError."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JsonBodyError("json_too_deep", "JSON is nested too deeply",
                            f"at most {MAX_JSON_DEPTH} levels of arrays and objects") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, int digit limit
        raise JsonBodyError("invalid_json", "request body is not valid JSON",
                            str(exc)[:500]) from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise JsonBodyError("json_too_deep", "JSON is nested too deeply",
                            f"at most {MAX_JSON_DEPTH} levels of arrays and objects")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays/objects nest more than `limit` levels (iterative: no recursion)."""
    if not isinstance(value, (dict, list)):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


class BodyTooLargeError(ValueError):
    """A request body is larger than the route accepts."""


async def read_json(request: web.Request, *, default: Any = None, allow_empty: bool = False,
                    max_bytes: int | None = None) -> Any:
    """The request's JSON body; raises web.HTTPBadRequest with a JSON error when malformed,
    BodyTooLargeError past `max_bytes` (checked before reading, and while reading a body
    without Content-Length).

    `allow_empty` turns an empty body into `default`."""
    raw = await request.read() if max_bytes is None else await _read_bounded(request, max_bytes)
    if not raw.strip():
        if allow_empty:
            return default
        raise bad_request("empty_body", "request body must be JSON")
    try:
        return parse_json(raw)
    except JsonBodyError as exc:
        raise bad_request(exc.kind, exc.message, exc.details) from None


async def _read_bounded(request: web.Request, max_bytes: int) -> bytes:
    if request.content_length is not None and request.content_length > max_bytes:
        raise BodyTooLargeError(f"body of {request.content_length} bytes")
    body = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLargeError(f"body of more than {max_bytes} bytes")
    return bytes(body)


def bad_request(kind: str, message: str, details: str = "") -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": error_body(kind, message, details)}),
                              content_type="application/json")
