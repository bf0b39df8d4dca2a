"""The aiohttp application factory: routes, middlewares, websocket hub and worker.

The app may be created while its Services are still being built (`Startup`): the
start-up gate answers the editor's static files and /features at once and makes every
other request wait for the nodes (or answer 503 naming the failure if loading failed).
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from aiohttp import web

from comfy_core.api import static
from comfy_core.api.errors import json_error
from comfy_core.api.hub import WebSocketHub
from comfy_core.api.keys import HUB, PLUGIN_SERVER, STATE, WORKER
from comfy_core.api.plugin_routes import PluginRoutes
from comfy_core.api.plugin_server import PromptServer
from comfy_core.api.routes import files, frontend, jobs, models, plugins, prompt, system, userdata, ws
from comfy_core.api.routes.internal import LOG_SUBSCRIBERS, TERMINAL_SIZE, create_internal_app
from comfy_core.api.security import check_can_listen, middlewares_for
from comfy_core.api.state import AppState
from comfy_core.jobs.worker import Worker
from comfy_core.runtime import AppContext, use_app
from comfy_core.services import Services, Startup

log = logging.getLogger(__name__)
# Route tables registered at their path and again under /api (COMPAT 1.1).
DUPLICATED = (prompt.routes, files.routes, models.routes, system.routes, userdata.routes,
              frontend.routes, ws.routes, plugins.routes)


def create_app(services: Services | Startup,
               prompt_server: PromptServer | None = None) -> web.Application:
    """Build the app for `services` (ready, or still loading on the start-up thread); the
    worker starts with the app once the services are built, and stops with it.

    `prompt_server` is the plugin-facing server the custom nodes were (or are being) loaded
    against; without one a fresh PromptServer is made (apps without plugins)."""
    startup = Startup.done(services) if isinstance(services, Services) else services
    settings = startup.base.settings
    check_can_listen(settings)
    state = AppState(startup, lambda built, context: _on_services_built(app, built, context))
    app = web.Application(client_max_size=settings.max_upload_bytes,
                          middlewares=[*middlewares_for(settings), _startup_gate(state)])
    app[STATE] = state
    app[WORKER] = state.worker
    app[HUB] = WebSocketHub()
    app[LOG_SUBSCRIBERS] = set()
    if prompt_server is None:
        prompt_server = PromptServer(startup.base.store, settings)
    prompt_server.attach(app, app[HUB], state.worker)
    app[PLUGIN_SERVER] = prompt_server
    setup_routes(app)
    app.cleanup_ctx.append(_hub_ctx)
    app.cleanup_ctx.append(_worker_ctx)
    app.cleanup_ctx.append(_log_ctx)
    app.on_shutdown.append(_close_sockets)
    return app


def _on_services_built(app: web.Application, services: Services, context: AppContext
                       ) -> Worker:
    """Once the nodes (and custom nodes) are loaded: plugin routes go live, then the
    in-process worker, or with --ray the cluster's dispatcher (same interface), is made.
    Its events also tell the plugin server which client and node are running."""
    hub, plugin_server = app[HUB], app[PLUGIN_SERVER]
    plugin_server.go_live()

    def publish(kind: str, data: dict, binary: bytes | None, client_id: str | None) -> None:
        plugin_server.observe(kind, data, client_id)
        hub.publish(kind, data, binary=binary, client_id=client_id)

    def status_changed() -> None:
        prompt.broadcast_status(app)

    if services.cluster is not None:
        return services.cluster.make_worker(publish, status_changed)
    return Worker(services.store, services.executor, publish, status_changed=status_changed,
                  app=context, memory=services.memory)


def _startup_gate(state: AppState):
    """While the nodes load, serve the editor's static files and /features at once; every
    other request waits for the build. Handlers (and threads they start) see the app
    context: node INPUT_TYPES and validation read folders through comfy_core.runtime."""

    @web.middleware
    async def startup_gate(request: web.Request, handler):
        if not state.ready and static.answers_early(request, state.base.web_root):
            return await handler(request)
        try:
            context = await state.wait()
        except Exception as exc:  # the build failed; its traceback is in the log
            return json_error(503, "startup_failed", "the server failed to load its nodes",
                              f"{type(exc).__name__}: {exc}")
        with use_app(context):
            return await handler(request)

    return startup_gate


def setup_routes(app: web.Application) -> None:
    for table in DUPLICATED:
        for route in table:
            app.router.add_route(route.method, route.path, route.handler)
            app.router.add_route(route.method, "/api" + route.path, route.handler)
    for route in jobs.routes:  # declared with /api already: /api/jobs and /api/api/jobs
        app.router.add_route(route.method, route.path, route.handler)
        app.router.add_route(route.method, "/api" + route.path, route.handler)
    app.add_subapp("/internal", create_internal_app())
    app.router.register_resource(PluginRoutes(app[PLUGIN_SERVER], _plugin_routes_wait(app)))
    static.add_static_routes(app, frontend.file_routes)


def _plugin_routes_wait(app: web.Application):
    """Plugin routes are asked once the packs are loaded; a request meanwhile waits for
    them unless it is one the editor needs at once (its files, the page)."""
    state = app[STATE]

    async def wait_ready(request: web.Request) -> bool:
        if not state.ready and static.answers_early(request, state.base.web_root):
            return False
        try:
            await state.wait()
        except Exception:  # the build failed: the start-up gate answers 503
            return False
        return True

    return wait_ready


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[HUB].start()
    yield
    await app[HUB].stop()


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    """Recover and start the worker as soon as the services are built (at once when they
    were given ready)."""
    state = app[STATE]
    task = None
    if state.startup.ready and state.startup.error is None:
        state.attach(state.startup.result())
        state.worker.start()
    else:
        task = asyncio.create_task(state.start_worker())
    yield
    if task is not None:
        task.cancel()
    await asyncio.to_thread(state.worker.stop)


async def _log_ctx(app: web.Application) -> AsyncIterator[None]:
    buffer = app[STATE].base.logs
    hub = app[HUB]
    subscribers: set = app[LOG_SUBSCRIBERS]

    def forward(entries: list[dict]) -> None:
        for client_id in list(subscribers):
            hub.publish("logs", {"entries": entries, "size": TERMINAL_SIZE},
                        client_id=client_id, routed=False)

    if buffer is not None:
        buffer.add_listener(forward)
    yield
    if buffer is not None:
        buffer.remove_listener(forward)


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].stop()
