"""Editor support: users, per-user files (workflows, settings), global subgraphs.

Files live in `<user dir>/<user>/`; the user comes from the `Comfy-User` header
("default" without one). Every path is checked to stay inside that folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import uuid
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web

from comfy_core.api.errors import bad_request, json_error, read_json
from comfy_core.api.state import services_of
from comfy_core.files import UnsafePathError, check_subfolder, contained_join
from comfy_core.files.atomic import is_partial_name, write_atomic

routes = web.RouteTableDef()
_USER = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
log = logging.getLogger(__name__)
SETTINGS_FILE = "comfy.settings.json"


def _flag(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    return default if raw is None else raw.lower() in ("true", "1", "yes")


def user_root(request: web.Request) -> Path:
    user = request.headers.get("Comfy-User") or "default"
    if not _USER.match(user):
        raise bad_request("invalid_user", "Comfy-User must be letters, digits, '_' or '-'")
    return services_of(request).folders.user_dir / user


def user_path(request: web.Request, rel: str) -> Path:
    """`rel` (possibly %-encoded, '/'-separated) inside the user's folder, or a 400."""
    try:
        clean = check_subfolder(unquote(rel))
        if not clean:
            raise UnsafePathError("a file path is required")
        return contained_join(user_root(request), clean)
    except UnsafePathError as exc:
        raise bad_request("invalid_path", str(exc)) from None


def _info(root: Path, path: Path) -> dict:
    st = path.stat()
    return {"path": path.relative_to(root).as_posix(), "size": st.st_size,
            "modified": st.st_mtime}


def _read_users(request: web.Request) -> tuple[Path, dict]:
    """users.json (user id -> name) and its path; a damaged file is a 500 naming it (its
    ids name the users' folders, so it is never replaced by an empty list)."""
    users_file = services_of(request).folders.user_dir / "users.json"
    if not users_file.is_file():
        return users_file, {}
    try:
        users = json.loads(users_file.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        users = exc
    if not isinstance(users, dict) or not all(isinstance(v, str) for v in users.values()):
        log.error("the users file %s is damaged", users_file)
        raise web.HTTPInternalServerError(
            text=json.dumps({"error": {
                "type": "damaged_users_file", "message": f"{users_file} is damaged",
                "details": "it must be a JSON object of user id -> name; repair it or move "
                           "it aside (the users' folders stay where they are)",
                "extra_info": {}}}), content_type="application/json")
    return users_file, users


@routes.get("/users")
async def get_users(request: web.Request) -> web.Response:
    _, users = _read_users(request)
    if users:
        return web.json_response({"storage": "server", "users": users})
    return web.json_response({"storage": "server", "migrated": user_root(request).is_dir()})


@routes.post("/users")
async def post_users(request: web.Request) -> web.Response:
    body = await read_json(request)
    name = body.get("username") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise bad_request("invalid_username", "username must be a non-empty string")
    users_file, users = _read_users(request)
    if name in users.values():
        return web.json_response({"error": "Duplicate username."}, status=400)
    user_id = f"{re.sub(r'[^a-zA-Z0-9_-]+', '-', name)[:80]}_{uuid.uuid4()}"
    users[user_id] = name
    write_atomic(users_file, json.dumps(users).encode())
    return web.json_response(user_id)


def _list_files(base: Path, recurse: bool) -> list[Path]:
    walker = base.rglob("*") if recurse else base.glob("*")
    return sorted(p for p in walker if p.is_file() and not is_partial_name(p.name))


@routes.get("/userdata")
async def list_userdata(request: web.Request) -> web.Response:
    rel = request.query.get("dir")
    if not rel:
        raise bad_request("missing_dir", "query parameter 'dir' is required")
    base = user_path(request, rel)
    if not base.is_dir():
        return json_error(404, "not_found", f"user folder {rel!r} does not exist")
    files = await asyncio.to_thread(_list_files, base, _flag(request, "recurse", False))
    if _flag(request, "full_info", False):
        return web.json_response([_info(base, p) for p in files])
    names = [p.relative_to(base).as_posix() for p in files]
    if _flag(request, "split", False):
        return web.json_response([[n, *n.split("/")] for n in names])
    return web.json_response(names)


@routes.get("/v2/userdata")
async def list_userdata_v2(request: web.Request) -> web.Response:
    root = user_root(request)
    rel = request.query.get("path", "")
    base = user_path(request, rel) if rel else root
    if not base.is_dir():
        return json_error(404, "not_found", f"user folder {rel!r} does not exist")
    entries = []
    for p in sorted(base.iterdir()):
        st = p.stat()
        entry = {"name": p.name, "path": p.relative_to(root).as_posix(),
                 "type": "directory" if p.is_dir() else "file", "modified": st.st_mtime}
        if p.is_file():
            entry["size"] = st.st_size
        entries.append(entry)
    return web.json_response(entries)


@routes.get("/userdata/{file}")
async def get_userdata(request: web.Request) -> web.StreamResponse:
    path = user_path(request, request.match_info["file"])
    if not path.is_file():
        return json_error(404, "not_found", f"{request.match_info['file']!r} not found")
    ctype = "application/json" if path.suffix == ".json" else "application/octet-stream"
    return web.FileResponse(path, headers={"Content-Type": ctype})


@routes.post("/userdata/{file}")
async def post_userdata(request: web.Request) -> web.Response:
    path = user_path(request, request.match_info["file"])
    if path.exists() and not _flag(request, "overwrite", True):
        return json_error(409, "exists", f"{path.name!r} already exists")
    if path.is_dir():
        return json_error(409, "exists", f"{path.name!r} is a folder")
    write_atomic(path, await request.read())
    root = user_root(request)
    if _flag(request, "full_info", False):
        return web.json_response(_info(root, path))
    return web.json_response(path.relative_to(root).as_posix())


@routes.delete("/userdata/{file}")
async def delete_userdata(request: web.Request) -> web.Response:
    path = user_path(request, request.match_info["file"])
    if not path.is_file():
        return json_error(404, "not_found", f"{request.match_info['file']!r} not found")
    path.unlink()
    return web.Response(status=204)


@routes.post("/userdata/{file}/move/{dest}")
async def move_userdata(request: web.Request) -> web.Response:
    src = user_path(request, request.match_info["file"])
    dest = user_path(request, request.match_info["dest"])
    if not src.is_file():
        return json_error(404, "not_found", f"{request.match_info['file']!r} not found")
    if dest.exists() and not _flag(request, "overwrite", True):
        return json_error(409, "exists", f"{dest.name!r} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)
    root = user_root(request)
    if _flag(request, "full_info", False):
        return web.json_response(_info(root, dest))
    return web.json_response(dest.relative_to(root).as_posix())


def _read_settings(path: Path) -> dict | None:
    """The settings object in `path`; {} when there is none; None when the file is
    unreadable (not JSON, not an object), which is logged naming it."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # JSON, UTF-8, digit-limit errors
        log.error("the user settings file %s is damaged (%s); using defaults", path, exc)
        return None
    if not isinstance(data, dict):
        log.error("the user settings file %s does not hold an object; using defaults", path)
        return None
    return data


def _load_settings(request: web.Request) -> dict:
    return _read_settings(user_root(request) / SETTINGS_FILE) or {}


def _save_settings(request: web.Request, data: dict) -> None:
    """Write the settings; a damaged file is kept as `<name>.damaged`, never overwritten."""
    path = user_root(request) / SETTINGS_FILE
    if _read_settings(path) is None:
        aside = path.with_name(path.name + ".damaged")
        os.replace(path, aside)
        log.error("kept the damaged settings file as %s", aside)
    write_atomic(path, json.dumps(data, indent=4).encode())


@routes.get("/settings")
async def get_settings(request: web.Request) -> web.Response:
    return web.json_response(_load_settings(request))


@routes.post("/settings")
async def post_settings(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise bad_request("invalid_settings", "settings must be a JSON object")
    _save_settings(request, {**_load_settings(request), **body})
    return web.Response()


@routes.get("/settings/{setting_id}")
async def get_setting(request: web.Request) -> web.Response:
    return web.json_response(_load_settings(request).get(request.match_info["setting_id"]))


@routes.post("/settings/{setting_id}")
async def post_setting(request: web.Request) -> web.Response:
    value = await read_json(request)
    _save_settings(request, {**_load_settings(request), request.match_info["setting_id"]: value})
    return web.Response()


@routes.get("/global_subgraphs")
async def global_subgraphs(request: web.Request) -> web.Response:
    return web.json_response({})


@routes.get("/global_subgraphs/{subgraph_id}")
async def global_subgraph(request: web.Request) -> web.Response:
    return json_error(404, "not_found", f"no global subgraph {request.match_info['subgraph_id']!r}")
