"""GET /ws: the websocket handshake and receive loop (COMPAT 2.1, 2.4)."""

from __future__ import annotations

import logging
import re
import uuid

from aiohttp import WSMsgType, web

from comfy_core.api import protocol
from comfy_core.api.errors import JsonBodyError, parse_json
from comfy_core.api.keys import HUB, PLUGIN_SERVER
from comfy_core.api.state import services_of

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")


@routes.get("/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    client_id = request.query.get("clientId") or uuid.uuid4().hex
    if not _CLIENT_ID.match(client_id):
        raise web.HTTPBadRequest(reason="clientId must be 1-128 letters, digits, '_' or '-'")
    ws = web.WebSocketResponse(max_msg_size=1 << 20, heartbeat=30.0)
    await ws.prepare(request)
    hub = request.app[HUB]
    services = services_of(request)
    # The status with the sid must be the first message, so it goes out before the socket
    # is registered for events.
    await ws.send_str(protocol.json_message(
        "status", protocol.status_data(services.store.remaining(), sid=client_id)))
    running = hub.running_node(client_id)
    if running is not None:
        await ws.send_str(protocol.json_message("executing", {"node": running}))
    client = await hub.connect(client_id, ws, request.transport)
    try:
        first = True
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and first:
                first = False
                await _first_message(ws, client, msg.data, request.app[PLUGIN_SERVER].feature_flags)
            elif msg.type == WSMsgType.ERROR:
                log.debug("websocket %s error: %s", client_id, ws.exception())
    except Exception:  # the handshake is done: an HTTP error response can no longer go out
        log.exception("websocket %s failed; closing it", client_id)
        await ws.close()
    finally:
        hub.disconnect(client)
    return ws


async def _first_message(ws: web.WebSocketResponse, client, raw: str, server_flags: dict) -> None:
    """Store the client's feature flags and answer with the server's (only the first
    text message counts; anything else is ignored)."""
    try:
        msg = parse_json(raw)
    except JsonBodyError:
        log.debug("ignoring a malformed first websocket message from %s", client.client_id)
        return
    if (isinstance(msg, dict) and msg.get("type") == "feature_flags"
            and isinstance(msg.get("data"), dict)):
        client.feature_flags = msg["data"]
        await ws.send_str(protocol.json_message("feature_flags", server_flags))
