"""POST/GET /prompt, /queue, /history, /interrupt and /free (COMPAT 1.3-1.4, 4.5-4.6)."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
from typing import Any

from aiohttp import web

from comfy_core.api import protocol
from comfy_core.api.errors import (
    BodyTooLargeError,
    bad_request,
    prompt_error,
    read_json,
    storage_unavailable,
)
from comfy_core.api.keys import HUB, PLUGIN_SERVER, STATE, WORKER
from comfy_core.api.params import int_query
from comfy_core.api.state import services_of
from comfy_core.graph.validate import validate_prompt
from comfy_core.jobs import DuplicatePromptError, StoreUnavailableError
from comfy_core.jobs.records import HISTORY_PARTS, HistoryView, now_ms
from comfy_core.jobs.worker import FreeRequest
from comfy_core.settings import Settings

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_PROMPT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def broadcast_status(app: web.Application) -> None:
    """Send the queue size to every socket (after any queue change)."""
    remaining = app[STATE].base.store.remaining()
    app[HUB].publish("status", protocol.status_data(remaining), routed=False)


def _request_fields(body: dict) -> tuple[str, list | None, float | int | None, dict]:
    """(prompt_id, partial targets, number, extra_data) or a 400 naming the bad field."""
    prompt_id = body.get("prompt_id") or str(uuid.uuid4())
    if not isinstance(prompt_id, str) or not _PROMPT_ID.match(prompt_id):
        raise bad_request("invalid_prompt_id", "prompt_id must be 1-128 letters, digits or "
                          "'_.:-'", repr(prompt_id)[:200])
    targets = body.get("partial_execution_targets")
    if targets is not None and (not isinstance(targets, list)
                                or not all(isinstance(t, str) for t in targets)):
        raise bad_request("invalid_partial_execution_targets",
                          "partial_execution_targets must be a list of node id strings")
    number = body.get("number")
    if number is not None and not _finite_number(number):
        raise bad_request("invalid_number", "number must be a finite number",
                          repr(number)[:100])
    extra = body.get("extra_data", {})
    if not isinstance(extra, dict):
        raise bad_request("invalid_extra_data", "extra_data must be an object")
    client_id = body.get("client_id")
    if client_id is not None:
        if not isinstance(client_id, str):
            raise bad_request("invalid_client_id", "client_id must be a string")
        extra = {**extra, "client_id": client_id}
    return prompt_id, targets, number, extra


def _finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


@routes.get("/prompt")
async def get_prompt(request: web.Request) -> web.Response:
    remaining = services_of(request).store.remaining()
    return web.json_response({"exec_info": {"queue_remaining": remaining}})


async def _read_prompt_body(request: web.Request, settings: Settings) -> Any:
    """The JSON body, or the 413 when it passes --max-prompt-size (or --max-upload-size,
    when that is the smaller)."""
    upload, limit = settings.max_upload_bytes, settings.max_prompt_bytes
    try:
        return await read_json(request, max_bytes=min(upload, limit))
    except BodyTooLargeError as exc:
        if upload < limit:
            raise web.HTTPRequestEntityTooLarge(
                max_size=upload, actual_size=request.content_length or upload + 1) from None
        return prompt_error("prompt_too_large", "the prompt request is larger than "
                            f"{settings.max_prompt_size_mb:g} MB (--max-prompt-size)",
                            str(exc), status=413)


@routes.post("/prompt")
async def post_prompt(request: web.Request) -> web.Response:
    services = services_of(request)
    body = await _read_prompt_body(request, services.settings)
    if isinstance(body, web.Response):
        return body
    if not isinstance(body, dict):
        return prompt_error("invalid_request", "request body must be a JSON object")
    body = request.app[PLUGIN_SERVER].trigger_on_prompt(body)
    if "prompt" not in body:
        return prompt_error("no_prompt", "No prompt provided", "No prompt provided")
    prompt_id, targets, number, extra = _request_fields(body)
    result = await asyncio.to_thread(validate_prompt, services.registry, body["prompt"], targets)
    if not result.ok:
        return web.json_response({"error": result.error, "node_errors": result.node_errors},
                                 status=400)
    cluster = services.cluster
    if cluster is not None and not cluster.runnable(result.prompt or body["prompt"]):
        # no worker has the prompt's files as far as we know: ask them again (slow)
        refusal = await asyncio.to_thread(cluster.refusal, result.prompt or body["prompt"])
        if refusal is not None:
            return web.json_response(refusal, status=400)
    extra = {**extra, "create_time": now_ms()}
    try:
        job = services.store.submit(prompt_id, result.prompt or body["prompt"], extra,
                                    result.outputs, number=number, front=bool(body.get("front")))
    except DuplicatePromptError as exc:
        return prompt_error("duplicate_prompt_id", str(exc), prompt_id)
    except StoreUnavailableError as exc:
        log.error("refused prompt %s: %s", prompt_id, exc)
        return storage_unavailable(exc, node_errors={})
    broadcast_status(request.app)
    return web.json_response({"prompt_id": prompt_id, "number": job.number,
                              "node_errors": result.node_errors})


def _ids(body: dict) -> list[str]:
    ids = body.get("delete", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise bad_request("invalid_delete", "delete must be a list of prompt id strings")
    return ids


@routes.get("/queue")
async def get_queue(request: web.Request) -> web.Response:
    running, pending = services_of(request).store.queue()
    return web.json_response({"queue_running": running, "queue_pending": pending})


@routes.post("/queue")
async def post_queue(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("invalid_request", "body must be an object with clear and/or delete")
    store = services_of(request).store
    if body.get("clear"):
        store.clear_pending()
    store.delete_pending(_ids(body))
    broadcast_status(request.app)
    return web.Response()


def _history_view(request: web.Request) -> HistoryView | None:
    """`omit=` (comma list of HISTORY_PARTS) and `max_field_bytes=`; None when neither."""
    omit = frozenset(p.strip() for p in request.query.get("omit", "").split(",") if p.strip())
    unknown = sorted(omit - set(HISTORY_PARTS))
    if unknown:
        raise bad_request("invalid_parameter", f"omit may name {', '.join(HISTORY_PARTS)}; "
                          f"got {', '.join(unknown)[:200]}")
    max_field = int_query(request, "max_field_bytes", low=0)
    return HistoryView(omit, max_field) if omit or max_field is not None else None


@routes.get("/history")
async def get_history(request: web.Request) -> web.Response:
    max_items = int_query(request, "max_items")
    offset = int_query(request, "offset", -1)
    view = _history_view(request)
    store = services_of(request).store
    history = await asyncio.to_thread(store.history, max_items, offset, view)
    return web.json_response(history)


@routes.get("/history/{prompt_id}")
async def get_history_item(request: web.Request) -> web.Response:
    prompt_id = request.match_info["prompt_id"]
    view = _history_view(request)
    record = await asyncio.to_thread(services_of(request).store.history_item, prompt_id, view)
    return web.json_response({prompt_id: record} if record is not None else {})


@routes.post("/history")
async def post_history(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("invalid_request", "body must be an object with clear and/or delete")
    store = services_of(request).store
    if body.get("clear"):
        store.clear_history()
    store.delete_history(_ids(body))
    return web.Response()


@routes.post("/interrupt")
async def post_interrupt(request: web.Request) -> web.Response:
    body = await read_json(request, default={}, allow_empty=True)
    prompt_id = body.get("prompt_id") if isinstance(body, dict) else None
    if prompt_id is not None and not isinstance(prompt_id, str):
        raise bad_request("invalid_prompt_id", "prompt_id must be a string")
    request.app[WORKER].interrupt(prompt_id)
    return web.Response()


@routes.post("/free")
async def post_free(request: web.Request) -> web.Response:
    body = await read_json(request, default={}, allow_empty=True)
    if not isinstance(body, dict):
        raise bad_request("invalid_request", "body must be an object")
    request.app[WORKER].request_free(FreeRequest(bool(body.get("unload_models")),
                                                 bool(body.get("free_memory"))))
    return web.Response()
