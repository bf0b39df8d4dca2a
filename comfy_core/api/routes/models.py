"""/object_info, /models, /embeddings, /view_metadata and /experiment/models."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
from pathlib import Path

from aiohttp import web

from comfy_core.api.errors import json_error
from comfy_core.api.state import services_of

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
MAX_SAFETENSORS_HEADER = 64 * 1024 * 1024
_PREVIEW_EXTS = (".webp", ".png", ".jpg", ".jpeg", ".gif")


@routes.get("/object_info")
async def object_info(request: web.Request) -> web.Response:
    registry = services_of(request).registry
    return web.json_response(await asyncio.to_thread(registry.object_info))


@routes.get("/object_info/{node_class}")
async def object_info_for(request: web.Request) -> web.Response:
    registry = services_of(request).registry
    name = request.match_info["node_class"]
    return web.json_response(await asyncio.to_thread(registry.object_info_for, name))


@routes.get("/models")
async def model_folders(request: web.Request) -> web.Response:
    return web.json_response(services_of(request).folders.folder_names())


@routes.get("/models/{folder}")
async def model_files(request: web.Request) -> web.Response:
    folders = services_of(request).folders
    folder = request.match_info["folder"]
    if not folders.has_folder(folder, legacy=False):
        return json_error(404, "unknown_folder", f"no model folder named {folder!r}")
    return web.json_response(await asyncio.to_thread(folders.get_filename_list, folder))


@routes.get("/embeddings")
async def embeddings(request: web.Request) -> web.Response:
    names = await asyncio.to_thread(services_of(request).folders.get_filename_list,
                                    "embeddings")
    return web.json_response([os.path.splitext(n)[0] for n in names])


def read_safetensors_metadata(path: Path) -> dict | None:
    """The `__metadata__` dict of a safetensors header, or None (no torch needed)."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            return None
        (size,) = struct.unpack("<Q", head)
        if size <= 0 or size > MAX_SAFETENSORS_HEADER:
            return None
        try:
            header = json.loads(f.read(size))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else None


@routes.get("/view_metadata/{folder}")
async def view_metadata(request: web.Request) -> web.Response:
    folders = services_of(request).folders
    folder = request.match_info["folder"]
    filename = request.query.get("filename", "")
    if not folders.has_folder(folder) or not filename.endswith(".safetensors"):
        return json_error(404, "not_found", "a .safetensors filename in a known folder is "
                          "required")
    path = folders.get_full_path(folder, filename)
    if path is None:
        return json_error(404, "not_found", f"{filename!r} not found in {folder!r}")
    meta = await asyncio.to_thread(read_safetensors_metadata, path)
    if meta is None:
        return json_error(404, "no_metadata", f"{filename!r} has no readable metadata")
    return web.json_response(meta)


@routes.get("/experiment/models")
async def experiment_models(request: web.Request) -> web.Response:
    folders = services_of(request).folders
    return web.json_response([{"name": name, "folders": [str(p) for p in
                                                          folders.get_folder_paths(name)]}
                              for name in folders.folder_names()])


def _model_entries(folders, folder: str) -> list[dict]:
    out: list[dict] = []
    for index, root in enumerate(folders.get_folder_paths(folder)):
        seen = set(folders.get_filename_list(folder))
        for name in sorted(seen):
            path = root / name
            if path.is_file():
                out.append({"name": name.replace(os.sep, "/"), "pathIndex": index,
                            "modified": path.stat().st_mtime, "size": path.stat().st_size})
    return out


@routes.get("/experiment/models/{folder}")
async def experiment_model_files(request: web.Request) -> web.Response:
    folders = services_of(request).folders
    folder = request.match_info["folder"]
    if not folders.has_folder(folder, legacy=False):
        return json_error(404, "unknown_folder", f"no model folder named {folder!r}")
    return web.json_response(await asyncio.to_thread(_model_entries, folders, folder))


@routes.get("/experiment/models/preview/{folder}/{path_index}/{filename:.*}")
async def experiment_model_preview(request: web.Request) -> web.StreamResponse:
    folders = services_of(request).folders
    folder = request.match_info["folder"]
    try:
        index = int(request.match_info["path_index"])
        root = folders.get_folder_paths(folder)[index]
    except (ValueError, IndexError, KeyError):
        return json_error(404, "not_found", "unknown folder or path index")
    model = folders.get_full_path(folder, request.match_info["filename"])
    if model is None or root not in model.parents:
        return json_error(404, "not_found", "model not found")
    stem = model.with_suffix("")
    for ext in _PREVIEW_EXTS:
        for candidate in (stem.with_name(stem.name + ext), stem.with_name(stem.name + ".preview" + ext)):
            if candidate.is_file():
                return web.FileResponse(candidate)
    return json_error(404, "not_found", "no preview image next to the model")
