"""Websocket hub: the connected clients and ordered, thread-safe delivery of events.

The worker thread calls `publish` (never awaits); a single pump task on the event loop
delivers messages in publish order and applies the routing rules of COMPAT 2.2.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, web

from comfy_core.api import protocol

log = logging.getLogger(__name__)


@dataclass
class Client:
    client_id: str
    ws: web.WebSocketResponse
    feature_flags: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Outgoing:
    kind: str
    data: dict
    binary: bytes | None
    client_id: str | None
    routed: bool


class WebSocketHub:
    """Connected sockets by client id. Create inside the running loop's app (cleanup_ctx)."""

    def __init__(self) -> None:
        self._clients: dict[str, Client] = {}
        self._queue: asyncio.Queue[_Outgoing | None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump: asyncio.Task | None = None
        self.running: tuple[str | None, str] | None = None  # (client_id, node id) now running
        self._flush_waiters: list[asyncio.Future] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._pump = asyncio.create_task(self._run_pump(), name="ws-hub-pump")

    async def stop(self) -> None:
        """Stop delivering and close every socket (server shutdown)."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        for client in list(self._clients.values()):
            await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        self._clients.clear()

    @property
    def client_ids(self) -> list[str]:
        return list(self._clients)

    async def connect(self, client_id: str, ws: web.WebSocketResponse) -> Client:
        """Register a socket; an older socket with the same id is closed and replaced."""
        old = self._clients.pop(client_id, None)
        if old is not None and old.ws is not ws:
            await old.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"replaced")
        client = Client(client_id, ws)
        self._clients[client_id] = client
        return client

    def disconnect(self, client: Client) -> None:
        if self._clients.get(client.client_id) is client:
            del self._clients[client.client_id]

    def publish(self, kind: str, data: dict, *, binary: bytes | None = None,
                client_id: str | None = None, routed: bool = True) -> None:
        """Queue a message from any thread. `routed` applies the execution-event rules
        (no client -> dropped or broadcast by kind); unrouted messages go to `client_id`
        or, without one, to everyone."""
        if self._loop is None or self._queue is None or self._loop.is_closed():
            return
        item = _Outgoing(kind, data, binary, client_id, routed)
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # loop closed during shutdown
            pass

    async def drain(self) -> None:
        """Wait until everything published so far was delivered (tests, shutdown)."""
        if self._queue is not None:
            done = asyncio.get_running_loop().create_future()
            self._queue.put_nowait(None)
            self._flush_waiters.append(done)
            await done

    async def _run_pump(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            if item is None:
                while self._flush_waiters:
                    waiter = self._flush_waiters.pop(0)
                    if not waiter.done():
                        waiter.set_result(None)
                continue
            try:
                await self._deliver(item)
            except Exception:  # a broken message must not stop delivery
                log.exception("failed to deliver websocket message %s", item.kind)

    def _targets(self, item: _Outgoing) -> list[Client]:
        if item.client_id is not None:
            client = self._clients.get(item.client_id)
            return [client] if client is not None else []
        if item.routed and item.kind in protocol.CLIENT_ONLY:
            return []
        return list(self._clients.values())

    async def _deliver(self, item: _Outgoing) -> None:
        if item.kind == "executing" and item.routed:
            node = item.data.get("node")
            self.running = (item.client_id, node) if node is not None else None
        for client in self._targets(item):
            if item.kind == "preview":
                if item.binary is None:
                    continue
                wants_meta = bool(client.feature_flags.get("supports_preview_metadata"))
                await self._send(client, protocol.preview_frame(item.binary, item.data,
                                                                with_metadata=wants_meta))
            elif item.binary is not None:
                await self._send(client, item.binary)
            else:
                await self._send(client, protocol.json_message(item.kind, item.data))

    async def _send(self, client: Client, payload: str | bytes) -> None:
        if client.ws.closed:
            self.disconnect(client)
            return
        try:
            if isinstance(payload, bytes):
                await client.ws.send_bytes(payload)
            else:
                await client.ws.send_str(payload)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("dropping websocket client %s: %s", client.client_id, exc)
            self.disconnect(client)
