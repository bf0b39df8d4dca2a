"""`PromptServer`: the server object ComfyUI plugins talk to (COMPAT-PLUGINS 5.1, 5.2).

Packs reach it as `server.PromptServer.instance` (ComfyUI's one documented singleton: the
constructor sets it) to add HTTP routes at import time, send websocket events from node
code, read which client and node are running, and hook prompt submission. It is a thin
face over our own parts: the websocket hub (delivery), the job store (queue view), the
worker (interrupts) and the app (routes).

Routes: our app listens before the packs load (the nodes load on a start-up thread), so
pack routes cannot join its frozen router. They collect in `routes` and in `app`, a
separate aiohttp Application that stays open for `add_routes` until the packs are loaded;
then `go_live` adds an `/api` copy of every table route and freezes it, and the running
app's `PluginRoutes` resource (see plugin_routes.py) resolves requests against it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import threading
from typing import Any, Callable, ClassVar

from aiohttp import web

from comfy_core.api import protocol
from comfy_core.api.plugin_queue import PromptQueueView

log = logging.getLogger(__name__)


class BinaryEventTypes:
    """Binary websocket frame types (uint32 big-endian header)."""

    PREVIEW_IMAGE = 1
    UNENCODED_PREVIEW_IMAGE = 2
    TEXT = 3
    PREVIEW_IMAGE_WITH_METADATA = 4


class PromptServer:
    """The plugin-facing server. `instance` is the latest one constructed."""

    instance: ClassVar["PromptServer"]

    def __init__(self, store: Any = None, settings: Any = None) -> None:
        PromptServer.instance = self
        self.routes = web.RouteTableDef()
        self.app = web.Application()  # pack routes until go_live (then frozen)
        self.supports = ["custom_nodes_from_web"]
        # What /features and the websocket handshake advertise; packs add to it (as to
        # comfy_api.feature_flags.SERVER_FEATURE_FLAGS, which is this dict).
        self.feature_flags = protocol.server_feature_flags(
            settings.max_upload_bytes if settings is not None else 100 * 1024 * 1024)
        self.prompt_queue = PromptQueueView(store, self)
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self.number = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.address = settings.listen[0] if settings is not None else None
        self.port = settings.port if settings is not None else None
        self.on_prompt_handlers: list[Callable[[dict], dict]] = []
        self.loop_ready = threading.Event()
        self.live = False
        self._store = store
        self._main: web.Application | None = None
        self._hub: Any = None
        self._worker: Any = None

    # -- wiring (create_app) ----------------------------------------------------------------
    def attach(self, main_app: web.Application, hub: Any, worker: Any) -> None:
        """Serve through `main_app`: its hub delivers events, its worker slot interrupts.
        The loop is known when the app starts."""
        self._main, self._hub, self._worker = main_app, hub, worker

        async def on_startup(_app: web.Application) -> None:
            self.loop = asyncio.get_running_loop()
            self.loop_ready.set()

        main_app.on_startup.append(on_startup)

    @property
    def attached(self) -> bool:
        return self._main is not None

    def go_live(self) -> None:
        """After the packs loaded: every `routes` entry at its path and under /api (static
        entries only at their path), then the router is frozen, as ComfyUI's add_routes."""
        if self.live:
            return
        defs = list(self.routes)
        api = [web.RouteDef(d.method, "/api" + d.path, d.handler, d.kwargs) for d in defs
               if isinstance(d, web.RouteDef)]
        for route in api + defs:
            try:
                route.register(self.app.router)
            except (RuntimeError, ValueError) as exc:  # a second pack claiming a route
                log.warning("plugin route %s not added: %s", route, exc)
        self.app.router.freeze()
        self.live = True

    def observe(self, kind: str, data: dict, client_id: str | None) -> None:
        """Follow the worker's events: the running prompt's client, node and prompt id."""
        if kind == "execution_start":
            self.client_id = client_id
            self.last_prompt_id = data.get("prompt_id")
        elif kind == "executing":
            node = data.get("node")
            self.last_node_id = node if client_id is not None else None

    # -- events to websocket clients --------------------------------------------------------
    def send_sync(self, event: Any, data: Any, sid: str | None = None) -> None:
        """Queue an event from any thread: `sid` None broadcasts, an unknown sid drops it."""
        if self._hub is None:
            log.debug("plugin event %r dropped: no websocket server", event)
            return
        try:
            kind, payload, binary = encode_event(event, data)
        except (TypeError, ValueError) as exc:
            log.warning("plugin event %r not sent: %s", event, exc)
            return
        self._hub.publish(kind, payload, binary=binary, client_id=sid, routed=False)

    async def send(self, event: Any, data: Any, sid: str | None = None) -> None:
        """Coroutine form of send_sync (await it on the server loop)."""
        self.send_sync(event, data, sid)

    async def send_json(self, event: str, data: Any, sid: str | None = None) -> None:
        self.send_sync(event, data, sid)

    def send_progress_text(self, text: str | bytes, node_id: str, sid: str | None = None) -> None:
        """A progress text frame (binary type 3) for `node_id`; broadcast by default."""
        body = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        if self._hub is not None:
            self._hub.publish("plugin_binary", {}, binary=protocol.text_frame(str(node_id), body),
                              client_id=sid, routed=False)

    def queue_updated(self) -> None:
        self.send_sync("status", {"status": self.get_queue_info()})

    def get_queue_info(self) -> dict:
        remaining = self._store.remaining() if self._store is not None else 0
        return {"exec_info": {"queue_remaining": remaining}}

    # -- clients -----------------------------------------------------------------------------
    @property
    def sockets(self) -> dict:
        return {cid: c.ws for cid, c in self._clients().items()}

    @property
    def sockets_metadata(self) -> dict:
        return {cid: {"feature_flags": dict(c.feature_flags)} for cid, c in self._clients().items()}

    def _clients(self) -> dict:
        return self._hub.clients() if self._hub is not None else {}

    # -- prompt hooks ------------------------------------------------------------------------
    def add_on_prompt_handler(self, handler: Callable[[dict], dict]) -> None:
        self.on_prompt_handlers.append(handler)

    def trigger_on_prompt(self, body: dict) -> dict:
        """Run every on-prompt handler over a POST /prompt body before validation; a
        handler that raises is logged and the body kept."""
        for handler in self.on_prompt_handlers:
            try:
                result = handler(body)
            except Exception:
                log.exception("on-prompt handler %r failed; prompt kept as it was", handler)
                continue
            if isinstance(result, dict):
                body = result
        return body

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Interrupt the running prompt (any, or only `prompt_id`)."""
        return bool(self._worker is not None and self._worker.interrupt(prompt_id))

    def request_free(self, unload_models: bool, free_memory: bool) -> None:
        if self._worker is not None:
            from comfy_core.jobs.worker import FreeRequest

            self._worker.request_free(FreeRequest(unload_models, free_memory))


def encode_event(event: Any, data: Any) -> tuple[str, Any, bytes | None]:
    """(hub kind, JSON data, binary frame) for what a plugin sends: preview tuples (types 2
    and 4) are encoded to image frames, bytes get the `[uint32 event]` header, anything else
    goes out as JSON `{"type": event, "data": data}`."""
    if event == BinaryEventTypes.UNENCODED_PREVIEW_IMAGE:
        mime, image = _encode_preview(data)
        return "plugin_binary", {}, protocol.preview_frame(image, {"image_type": mime},
                                                           with_metadata=False)
    if event == BinaryEventTypes.PREVIEW_IMAGE_WITH_METADATA:
        preview, metadata = data
        mime, image = _encode_preview(preview)
        body = json.dumps({**dict(metadata), "image_type": mime}).encode()
        return "plugin_binary", {}, (struct.pack(">II", event, len(body)) + body + image)
    if isinstance(data, (bytes, bytearray, memoryview)):
        if not isinstance(event, int):
            raise TypeError(f"binary data needs an integer event type, got {event!r}")
        return "plugin_binary", {}, struct.pack(">I", event) + bytes(data)
    json.dumps(data)  # fail here, in the caller's thread, rather than in the hub
    return event, data, None


def _encode_preview(preview: Any) -> tuple[str, bytes]:
    from comfy_core.execution.progress import encode_preview

    fmt, image, max_size = preview
    return encode_preview((fmt, image, max_size))
