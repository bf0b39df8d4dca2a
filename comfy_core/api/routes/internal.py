"""/internal/* (a sub-application, not duplicated under /api): logs, folders, files."""

from __future__ import annotations

from aiohttp import web

from comfy_core.api.errors import bad_request, json_error, read_json
from comfy_core.api.state import services_of
from comfy_core.files.safe import is_within

LOG_SUBSCRIBERS = web.AppKey("log_subscribers", set)
TERMINAL_SIZE = {"cols": 80, "rows": 24}
routes = web.RouteTableDef()


@routes.get("/logs")
async def logs(request: web.Request) -> web.Response:
    buffer = services_of(request).logs
    return web.json_response(buffer.text() if buffer is not None else "")


@routes.get("/logs/raw")
async def logs_raw(request: web.Request) -> web.Response:
    buffer = services_of(request).logs
    entries = buffer.entries() if buffer is not None else []
    return web.json_response({"entries": entries, "size": TERMINAL_SIZE})


@routes.patch("/logs/subscribe")
async def logs_subscribe(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("clientId"), str):
        raise bad_request("invalid_request", "body must be {clientId, enabled}")
    subscribers = request.config_dict[LOG_SUBSCRIBERS]
    if body.get("enabled"):
        subscribers.add(body["clientId"])
    else:
        subscribers.discard(body["clientId"])
    return web.Response()


@routes.get("/folder_paths")
async def folder_paths(request: web.Request) -> web.Response:
    folders = services_of(request).folders
    return web.json_response({name: [str(p) for p in folders.get_folder_paths(name)]
                              for name in folders.folder_names()})


@routes.get("/files/{directory_type}")
async def files(request: web.Request) -> web.Response:
    """File names (no dotfiles, no folders) of output, input or temp, newest first."""
    kind = request.match_info["directory_type"]
    if kind not in ("output", "input", "temp"):
        return json_error(400, "invalid_type", "directory type must be output, input or temp")
    base = services_of(request).folders.directory_of(kind)
    # dotfiles (partial writes among them) and links leading out (never served) hidden
    found = ([p for p in base.iterdir()
              if p.is_file() and not p.name.startswith(".") and is_within(base, p)]
             if base.is_dir() else [])
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    # Annotated ("name [output]") so a remote combo's value names its folder: LoadImage's
    # loader and validation then look there (LoadImageOutput), as in ComfyUI.
    return web.json_response([f"{p.name} [{kind}]" for p in found])


def create_internal_app() -> web.Application:
    """The /internal sub-application (state lives in the parent app)."""
    app = web.Application()
    app.add_routes(routes)
    return app
