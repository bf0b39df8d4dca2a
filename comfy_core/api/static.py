"""The editor's static files, plugin web directories and the index page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from comfy_core.api.keys import SERVICES

NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
            "Expires": "0"}
NOT_INSTALLED = """<!doctype html>
<html><head><meta charset="utf-8"><title>comfy-core</title></head>
<body><h1>The editor is not installed</h1>
<p>The server is running and its API answers under <code>/api/</code>, but there is no
<code>web/index.html</code>. Run <code>bash scripts/setup.sh</code> to install the editor.</p>
</body></html>
"""


async def index(request: web.Request) -> web.StreamResponse:
    web_root: Path | None = request.app[SERVICES].web_root
    page = web_root / "index.html" if web_root is not None else None
    if page is not None and page.is_file():
        return web.FileResponse(page, headers=NO_CACHE)
    return web.Response(text=NOT_INSTALLED, content_type="text/html", headers=NO_CACHE)


def add_static_routes(app: web.Application) -> None:
    """Register after every API route: `/`, `/extensions/<plugin>/`, then the web root."""
    services = app[SERVICES]
    app.router.add_get("/", index)
    for plugin in services.plugins:
        if plugin.web_dir is not None and plugin.web_dir.is_dir():
            app.router.add_static(f"/extensions/{quote(plugin.name)}", plugin.web_dir)
    if services.web_root is not None and Path(services.web_root).is_dir():
        app.router.add_static("/", services.web_root)
