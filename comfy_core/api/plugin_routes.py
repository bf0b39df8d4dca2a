"""Serving the routes plugins add to `PromptServer.instance` from our running app.

The app's router is frozen when it starts listening, which is before the packs load, so
their routes live in the plugin server's own router. `PluginRoutes` is one resource of our
app, registered after every core route and before the static files (COMPAT-PLUGINS 5.2:
core routes win, pack routes come before the web root): it resolves a request against the
plugin router once the packs are loaded. A request that arrives while they still load
waits for them (the editor's own files are answered at once).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractResource
from yarl import URL

# wait_ready(request) -> whether the plugin routes can be asked (False: skip them now).
WaitReady = Callable[[web.Request], Awaitable[bool]]


class PluginRoutes(AbstractResource):
    """One app resource standing for every route of the plugin server."""

    def __init__(self, server: Any, wait_ready: WaitReady) -> None:
        super().__init__()
        self._server = server
        self._wait_ready = wait_ready

    @property
    def canonical(self) -> str:
        return "/"

    def url_for(self, **kwargs: str) -> URL:
        raise NotImplementedError("plugin routes have no single URL")

    def add_prefix(self, prefix: str) -> None:
        raise NotImplementedError("plugin routes are served at the root only")

    def get_info(self) -> dict:
        return {"plugin_routes": len(self)}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return len(self._server.app.router.routes()) if self._server.live else 0

    def __iter__(self):
        return iter(self._server.app.router.routes() if self._server.live else ())

    async def resolve(self, request: web.Request) -> tuple[Any, set[str]]:
        if not self._server.live and not await self._wait_ready(request):
            return None, set()
        if not self._server.live:
            return None, set()
        match = await self._server.app.router.resolve(request)
        error = match.http_exception
        if error is None:
            return match, set()
        if isinstance(error, web.HTTPMethodNotAllowed):
            return None, set(error.allowed_methods)
        return None, set()
