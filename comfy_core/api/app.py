"""The aiohttp application factory: routes, middlewares, websocket hub and worker."""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from aiohttp import web

from comfy_core.api import static
from comfy_core.api.hub import WebSocketHub
from comfy_core.api.keys import HUB, SERVICES, WORKER
from comfy_core.api.routes import files, jobs, models, prompt, system, userdata, ws
from comfy_core.api.routes.internal import LOG_SUBSCRIBERS, TERMINAL_SIZE, create_internal_app
from comfy_core.api.security import check_can_listen, middlewares_for
from comfy_core.jobs.worker import Worker
from comfy_core.runtime import AppContext, use_app
from comfy_core.services import Services

log = logging.getLogger(__name__)
# Route tables registered at their path and again under /api (COMPAT 1.1).
DUPLICATED = (prompt.routes, files.routes, models.routes, system.routes, userdata.routes,
              ws.routes)


def create_app(services: Services) -> web.Application:
    """Build the app for `services`; the worker starts and stops with the app."""
    settings = services.settings
    check_can_listen(settings)
    context = AppContext(folders=services.folders, settings=settings, memory=services.memory)
    app = web.Application(client_max_size=settings.max_upload_bytes,
                          middlewares=[_with_app_context(context), *middlewares_for(settings)])
    app[SERVICES] = services
    app[HUB] = hub = WebSocketHub()
    app[LOG_SUBSCRIBERS] = set()
    app[WORKER] = Worker(
        services.store, services.executor,
        lambda kind, data, binary, client_id: hub.publish(kind, data, binary=binary,
                                                          client_id=client_id),
        status_changed=lambda: prompt.broadcast_status(app), app=context,
        memory=services.memory)
    setup_routes(app)
    app.cleanup_ctx.append(_hub_ctx)
    app.cleanup_ctx.append(_worker_ctx)
    app.cleanup_ctx.append(_log_ctx)
    app.on_shutdown.append(_close_sockets)
    return app


def _with_app_context(context: AppContext):
    """Handlers (and threads they start) see the app context: node INPUT_TYPES and
    validation read folders through comfy_core.runtime."""

    @web.middleware
    async def app_context(request: web.Request, handler):
        with use_app(context):
            return await handler(request)

    return app_context


def setup_routes(app: web.Application) -> None:
    for table in DUPLICATED:
        for route in table:
            app.router.add_route(route.method, route.path, route.handler)
            app.router.add_route(route.method, "/api" + route.path, route.handler)
    for route in jobs.routes:  # declared with /api already: /api/jobs and /api/api/jobs
        app.router.add_route(route.method, route.path, route.handler)
        app.router.add_route(route.method, "/api" + route.path, route.handler)
    app.add_subapp("/internal", create_internal_app())
    static.add_static_routes(app)


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[HUB].start()
    yield
    await app[HUB].stop()


async def _worker_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    for prompt_id, action in services.store.recover(requeue=services.settings.requeue_running):
        log.info("recovered job %s: %s", prompt_id, action)
    worker = app[WORKER]
    worker.start()
    yield
    await asyncio.to_thread(worker.stop)


async def _log_ctx(app: web.Application) -> AsyncIterator[None]:
    buffer = app[SERVICES].logs
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
