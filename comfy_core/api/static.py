"""The frontend's static files, plugin web directories and the index page."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from comfy_core.api.frontend import BUILTIN_EXTENSION
from comfy_core.api.state import STATE, AppState, base_of, state_of
from comfy_core.files import UnsafePathError, check_subfolder, contained_join

NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache",
            "Expires": "0"}
NOT_INSTALLED = """<!doctype html>
<html><head><meta charset="utf-8"><title>comfy-core</title></head>
<body><h1>The editor is not installed</h1>
<p>The server is running and its API answers under <code>/api/</code>, but there is no
<code>web/index.html</code>. Run <code>bash scripts/setup.sh</code> to install the editor.</p>
</body></html>
"""
# Answered while the nodes load (besides the editor's files): the page and feature flags.
EARLY_PATHS = frozenset({"/", "/features", "/api/features"})


async def index(request: web.Request) -> web.StreamResponse:
    web_root: Path | None = base_of(request).web_root
    page = web_root / "index.html" if web_root is not None else None
    if page is not None and page.is_file():
        return web.FileResponse(page, headers=NO_CACHE)
    return web.Response(text=NOT_INSTALLED, content_type="text/html", headers=NO_CACHE)


def file_in(root: Path | None, rel: str) -> Path | None:
    """The existing file `rel` ('/'-separated) inside `root`, or None (also when unsafe)."""
    if root is None:
        return None
    try:
        clean = check_subfolder(rel)
        path = contained_join(Path(root), clean) if clean else None
    except UnsafePathError:
        return None
    return path if path is not None and path.is_file() else None


def answers_early(request: web.Request, web_root: Path | None) -> bool:
    """Whether `request` is for the index page, /features or one of the editor's own files,
    which need no node: these are answered while the nodes are still loading."""
    if request.method not in ("GET", "HEAD"):
        return False
    return request.path in EARLY_PATHS or file_in(web_root, request.path.lstrip("/")) is not None


def registered_extension_dirs(state: AppState) -> dict[str, Path]:
    """URL name -> folder of browser scripts listed and served as `/extensions/<name>/...`:
    each plugin's WEB_DIRECTORY and whatever was put in ComfyUI's nodes.EXTENSION_WEB_DIRS
    (the live mapping `Services.web_dirs`; known once the custom nodes are loaded)."""
    if not state.ready:
        return {}
    return {str(name): Path(folder) for name, folder in list(state.services().web_dirs.items())}


async def extension_file(request: web.Request) -> web.StreamResponse:
    """`/extensions/<name>/<file>`: a registered web directory (plugins are known once the
    custom nodes are loaded), else the web root's own `extensions/<name>/` folder."""
    name, rel = request.match_info["plugin"], request.match_info["file"]
    state = state_of(request)
    web_root = state.base.web_root
    builtin = state.frontend.builtin_extension_dir if name == BUILTIN_EXTENSION else None
    roots = [builtin, registered_extension_dirs(state).get(name),
             Path(web_root) / "extensions" / name if web_root is not None else None]
    for root in roots:
        path = file_in(root, rel)
        if path is not None:
            return web.FileResponse(path)
    raise web.HTTPNotFound(reason=f"no extension file {name}/{rel}")


def add_static_routes(app: web.Application, file_routes: web.RouteTableDef) -> None:
    """Register after every API route: `/`, `/extensions/<plugin>/...`, the frontend
    packages' files (`file_routes`: templates, docs), then the web root. Plugin directories
    are looked up per request: they are known only after start-up."""
    web_root = app[STATE].base.web_root
    app.router.add_get("/", index)
    app.router.add_get("/extensions/{plugin}/{file:.+}", extension_file)
    app.router.add_routes(file_routes)
    if web_root is not None and Path(web_root).is_dir():
        app.router.add_static("/", web_root)

