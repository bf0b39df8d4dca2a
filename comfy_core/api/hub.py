"""Websocket hub: the connected clients and ordered, thread-safe delivery of events.

The worker thread calls `publish` (never awaits). Messages published from threads gather
in an inbox that the event loop empties in one go: a burst (a quick job's events) wakes
the loop once, not once per message. One router task on the event loop takes
messages in publish order, applies the routing rules of COMPAT 2.2 and puts each payload
on the target clients' own bounded queues; one sender task per client writes its queue to
its socket. A client that stops reading can only fill its own queue: when the queue passes
its bounds, or one send takes longer than `send_timeout`, that client's connection is
aborted (it may reconnect with the same clientId), and nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Awaitable

from aiohttp import WSCloseCode, web

from comfy_core.api import protocol

log = logging.getLogger(__name__)

_TIMEOUT = getattr(asyncio, "timeout", None)  # Python 3.11+
SEND_TIMEOUT_S = 30.0
MAX_QUEUE_MESSAGES = 4096
MAX_QUEUE_BYTES = 32 * 1024 * 1024


@dataclass(eq=False)
class Client:
    client_id: str
    ws: web.WebSocketResponse
    feature_flags: dict = field(default_factory=dict)
    transport: asyncio.BaseTransport | None = None
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    queued_bytes: int = 0
    sender: asyncio.Task | None = None
    closed: bool = False


@dataclass(frozen=True)
class _Outgoing:
    kind: str
    data: dict
    binary: bytes | None
    client_id: str | None
    routed: bool


class WebSocketHub:
    """Connected sockets by client id. Create inside the running loop's app (cleanup_ctx).

    `send_timeout`, `max_queue_messages` and `max_queue_bytes` bound what one client may
    hold up; they are plain attributes so an embedding app (or a test) can tune them."""

    def __init__(self) -> None:
        self._clients: dict[str, Client] = {}
        self._queue: asyncio.Queue[_Outgoing | asyncio.Future] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._router: asyncio.Task | None = None
        self._inbox: list[_Outgoing] = []  # published, not yet in the router's queue
        self._inbox_lock = threading.Lock()
        self._inbox_wake = False  # the loop was asked to empty the inbox
        # client id -> the node now running for it (several jobs run at once on a cluster)
        self._running: dict[str | None, str] = {}
        self.send_timeout = SEND_TIMEOUT_S
        self.max_queue_messages = MAX_QUEUE_MESSAGES
        self.max_queue_bytes = MAX_QUEUE_BYTES

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._router = asyncio.create_task(self._route_forever(), name="ws-hub-router")

    async def stop(self) -> None:
        """Stop delivering and close every socket (server shutdown)."""
        if self._router is not None:
            self._router.cancel()
            await asyncio.gather(self._router, return_exceptions=True)
        for client in list(self._clients.values()):
            self._stop_sender(client)
            try:
                await asyncio.wait_for(client.ws.close(code=WSCloseCode.GOING_AWAY,
                                                       message=b"server shutdown"), 1.0)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                self._abort(client)
        self._clients.clear()

    def running_node(self, client_id: str) -> str | None:
        """The node running now for `client_id`'s job, if any (replayed on reconnect)."""
        return self._running.get(client_id)

    @property
    def client_ids(self) -> list[str]:
        return list(self._clients)

    def clients(self) -> dict[str, Client]:
        """The connected clients by id (a copy; plugins read sockets and feature flags)."""
        return dict(self._clients)

    async def connect(self, client_id: str, ws: web.WebSocketResponse,
                      transport: asyncio.BaseTransport | None = None) -> Client:
        """Register a socket; an older socket with the same id is closed and replaced.
        `transport` (the request's) lets a stalled client be aborted."""
        old = self._clients.pop(client_id, None)
        if old is not None and old.ws is not ws:
            self._stop_sender(old)
            try:
                await asyncio.wait_for(old.ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                                    message=b"replaced"), 1.0)
            except (asyncio.TimeoutError, ConnectionError, RuntimeError):
                self._abort(old)
        client = Client(client_id, ws, transport=transport)
        client.sender = asyncio.create_task(self._send_forever(client),
                                            name=f"ws-send-{client_id}")
        self._clients[client_id] = client
        return client

    def disconnect(self, client: Client) -> None:
        if self._clients.get(client.client_id) is client:
            del self._clients[client.client_id]
        self._stop_sender(client)

    def publish(self, kind: str, data: dict, *, binary: bytes | None = None,
                client_id: str | None = None, routed: bool = True) -> None:
        """Queue a message from any thread. `routed` applies the execution-event rules
        (no client -> dropped or broadcast by kind); unrouted messages go to `client_id`
        or, without one, to everyone."""
        if self._loop is None or self._queue is None or self._loop.is_closed():
            return
        item = _Outgoing(kind, data, binary, client_id, routed)
        with self._inbox_lock:
            self._inbox.append(item)
            if self._inbox_wake:  # already asked: the loop takes this one too
                return
            self._inbox_wake = True
        try:
            self._loop.call_soon_threadsafe(self._take_inbox)
        except RuntimeError:  # loop closed during shutdown
            pass

    def _take_inbox(self) -> None:
        """On the loop: what was published so far into the router's queue, in order."""
        with self._inbox_lock:
            items, self._inbox = self._inbox, []
            self._inbox_wake = False
        for item in items:
            self._queue.put_nowait(item)

    async def drain(self) -> None:
        """Wait until everything published so far was sent to the clients still connected
        (tests, shutdown)."""
        if self._queue is None:
            return
        self._take_inbox()
        routed = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(routed)
        await routed
        await asyncio.gather(*(c.queue.join() for c in list(self._clients.values())))

    # -- routing (one task, publish order) ------------------------------------------------
    async def _route_forever(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            if isinstance(item, asyncio.Future):
                if not item.done():
                    item.set_result(None)
                continue
            try:
                self._route(item)
            except Exception:  # a broken message must not stop delivery
                log.exception("failed to route websocket message %s", item.kind)

    def _targets(self, item: _Outgoing) -> list[Client]:
        if item.client_id is not None:
            client = self._clients.get(item.client_id)
            return [client] if client is not None else []
        if item.routed and item.kind in protocol.CLIENT_ONLY:
            return []
        return list(self._clients.values())

    def _route(self, item: _Outgoing) -> None:
        if item.kind == "executing" and item.routed:
            node = item.data.get("node")
            if node is not None:
                self._running[item.client_id] = node
            else:
                self._running.pop(item.client_id, None)
        for client in self._targets(item):
            if item.kind == "preview":
                if item.binary is None:
                    continue
                wants_meta = bool(client.feature_flags.get("supports_preview_metadata"))
                self._enqueue(client, protocol.preview_frame(item.binary, item.data,
                                                             with_metadata=wants_meta))
            elif item.binary is not None:
                self._enqueue(client, item.binary)
            else:
                self._enqueue(client, protocol.json_message(item.kind, item.data))

    def _enqueue(self, client: Client, payload: str | bytes) -> None:
        """Put `payload` on the client's queue, or drop the client when it is full."""
        size = len(payload)
        if (client.queue.qsize() >= self.max_queue_messages
                or client.queued_bytes + size > self.max_queue_bytes):
            self._drop(client, f"{client.queue.qsize()} messages ({client.queued_bytes} bytes) "
                               "waiting: the client is not reading")
            return
        client.queued_bytes += size
        client.queue.put_nowait(payload)

    # -- sending (one task per client) ----------------------------------------------------
    async def _send_forever(self, client: Client) -> None:
        while not client.closed:
            payload = await client.queue.get()
            try:
                if client.ws.closed:
                    self.disconnect(client)
                elif isinstance(payload, bytes):
                    await _within(client.ws.send_bytes(payload), self.send_timeout)
                else:
                    await _within(client.ws.send_str(payload), self.send_timeout)
            except asyncio.TimeoutError:
                self._drop(client, f"one send took longer than {self.send_timeout:g} s")
            except (ConnectionError, RuntimeError) as exc:
                log.debug("websocket client %s went away: %s", client.client_id, exc)
                self.disconnect(client)
            finally:
                client.queued_bytes -= len(payload)
                client.queue.task_done()

    def _drop(self, client: Client, why: str) -> None:
        """Abort a client that cannot keep up; the others are not affected."""
        log.warning("dropping websocket client %s: %s", client.client_id, why)
        if self._clients.get(client.client_id) is client:
            del self._clients[client.client_id]
        self._abort(client)
        self._stop_sender(client)

    @staticmethod
    def _abort(client: Client) -> None:
        if client.transport is not None and not client.transport.is_closing():
            client.transport.abort()

    @staticmethod
    def _stop_sender(client: Client) -> None:
        """Cancel the sender (unless it is the caller) and release whatever it still held."""
        client.closed = True
        sender = client.sender
        if sender is not None and sender is not asyncio.current_task():
            sender.cancel()
        while not client.queue.empty():
            payload = client.queue.get_nowait()
            client.queued_bytes -= len(payload)
            client.queue.task_done()


async def _within(send: Awaitable[None], seconds: float) -> None:
    """Await one send with a time limit, inline where asyncio.timeout exists: wait_for
    runs each send as a task of its own, a round of the loop per message, and a burst of
    messages (a quick job's events) would queue behind those rounds."""
    if _TIMEOUT is None:
        await asyncio.wait_for(send, seconds)
        return
    async with _TIMEOUT(seconds):
        await send
