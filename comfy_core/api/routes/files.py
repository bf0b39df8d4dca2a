"""GET /view, POST /upload/image and /upload/mask (COMPAT 1.5), with strict path rules."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from comfy_core.api import images
from comfy_core.api.errors import (
    JsonBodyError,
    bad_request,
    is_storage_full,
    json_error,
    parse_json,
    storage_unavailable,
)
from comfy_core.api.state import services_of
from comfy_core.files import (
    UnsafePathError,
    check_name,
    check_subfolder,
    contained_join,
    is_within,
)
from comfy_core.files.atomic import is_partial_name, write_atomic
from comfy_core.files.folders import split_annotation
from comfy_core.files.image_limits import ImageLimits, ImageTooLargeError

routes = web.RouteTableDef()
DIR_TYPES = ("output", "input", "temp")


def _disposition(name: str, inline: bool) -> str:
    safe = name.replace('"', "").replace("\\", "")
    return f'filename="{safe}"' if inline else f'attachment; filename="{safe}"'


def _resolve_view(request: web.Request) -> Path | web.Response:
    """The file /view should serve, or the error response (400/403/404)."""
    raw = request.query.get("filename")
    if raw is None:
        return json_error(404, "not_found", "filename is required")
    name, annotated = split_annotation(raw)
    if not name or name.startswith("/") or ".." in name:
        return json_error(400, "invalid_filename", "filename must be a plain relative name",
                          raw)
    kind = annotated or request.query.get("type", "output")
    if kind not in DIR_TYPES:
        return json_error(400, "invalid_type", f"type must be one of {list(DIR_TYPES)}", kind)
    folders = services_of(request).folders
    base = folders.directory_of(kind)
    try:
        subfolder = check_subfolder(request.query.get("subfolder", ""))
        folder = contained_join(base, subfolder) if subfolder else base
    except UnsafePathError as exc:
        return json_error(403, "unsafe_path", str(exc))
    try:
        filename = check_name(os.path.basename(name))
        path = contained_join(folder, filename)
    except UnsafePathError as exc:
        return json_error(400, "unsafe_path", str(exc))
    if not path.is_file() or is_partial_name(filename):  # partial: a write in progress
        return json_error(404, "not_found", f"file {filename!r} not found in {kind}")
    return path


@routes.get("/view")
async def view(request: web.Request) -> web.StreamResponse:
    path = _resolve_view(request)
    if isinstance(path, web.Response):
        return path
    preview = request.query.get("preview")
    channel = request.query.get("channel")
    if preview or channel in ("rgb", "a"):
        return await _reencoded(path, preview, channel, _limits(request))
    ctype, inline = images.content_type_for(path.name)
    return web.FileResponse(path, headers={"Content-Type": ctype,
                                           "Content-Disposition": _disposition(path.name, inline)})


async def _reencoded(path: Path, preview: str | None, channel: str | None,
                     limits: ImageLimits) -> web.Response:
    """/view's `preview=` (webp/jpeg) or `channel=rgb|a` (PNG) answer for `path`."""
    try:
        if preview:
            data, ctype = await asyncio.to_thread(images.preview_bytes, path, preview, channel,
                                                  limits)
        else:
            data, ctype = await asyncio.to_thread(images.channel_bytes, path, channel,
                                                  limits), "image/png"
    except ImageTooLargeError as exc:
        return json_error(413, "image_too_large", str(exc),
                          "fetch the file without preview/channel to get its bytes")
    except (OSError, ValueError) as exc:
        return json_error(400, "not_an_image", f"cannot re-encode {path.name}", str(exc))
    return web.Response(body=data, content_type=ctype,
                        headers={"Content-Disposition": _disposition(path.name, True)})


def _limits(request: web.Request) -> ImageLimits:
    return ImageLimits.of(services_of(request).settings)


async def _read_upload(request: web.Request) -> dict:
    """Multipart fields: bytes for files (with their filename), str for the others; a 400
    naming the problem when the body is not well-formed multipart/form-data."""
    if not request.content_type.startswith("multipart/"):
        raise bad_request("invalid_multipart", "expected a multipart/form-data body",
                          f"got Content-Type {request.content_type!r}")
    fields: dict = {}
    try:
        reader = await request.multipart()
        async for part in reader:
            if part.name is None:
                continue
            if part.filename is not None:
                fields[part.name] = (part.filename, bytes(await part.read()))
            else:
                fields[part.name] = await part.text()
    except (ValueError, LookupError, EOFError, HttpProcessingError) as exc:
        raise bad_request("invalid_multipart", "the multipart/form-data body is malformed",
                          str(exc)[:300]) from None
    return fields


def _target(request: web.Request, fields: dict) -> tuple[Path, str, str, str, bytes]:
    """(folder, filename, subfolder, type, data) for an upload, or raise ValueError."""
    upload = fields.get("image")
    if not isinstance(upload, tuple) or not upload[0]:
        raise ValueError("multipart field 'image' with a file name is required")
    filename, data = upload
    kind = fields.get("type") or "input"
    if kind not in DIR_TYPES:
        raise ValueError(f"type must be one of {list(DIR_TYPES)}, got {kind!r}")
    check_name(filename)
    if os.path.splitext(filename)[1].lower() not in images.IMAGE_EXTENSIONS:
        raise ValueError(f"file name {filename!r} must have an image extension "
                         f"({', '.join(sorted(images.IMAGE_EXTENSIONS))})")
    subfolder = check_subfolder(fields.get("subfolder") or "")
    base = services_of(request).folders.directory_of(kind)
    folder = contained_join(base, subfolder) if subfolder else base
    return folder, filename, subfolder, kind, data


def _free_name(folder: Path, filename: str, data: bytes, overwrite: bool) -> tuple[str, bool]:
    """(name to use, whether to write): identical content reuses the existing file,
    otherwise "<stem> (1)<ext>", "(2)", ... (COMPAT 1.5). A name that is a link leading out
    of `folder` counts as taken and is never read; overwriting it is refused."""
    if overwrite:
        if not is_within(folder, folder / filename):
            raise UnsafePathError(f"{filename!r} is a link that leads out of its folder; "
                                  "upload under another name")
        return filename, True
    digest = hashlib.sha256(data).hexdigest()
    stem, ext = os.path.splitext(filename)
    name, i = filename, 1
    while _taken(folder / name):
        if is_within(folder, folder / name) and (folder / name).is_file() \
                and images.sha256_file(folder / name) == digest:
            return name, False
        name = f"{stem} ({i}){ext}"
        i += 1
    return name, True


def _taken(path: Path) -> bool:
    return path.exists() or path.is_symlink()


async def _upload(request: web.Request, *, mask: bool) -> web.Response:
    fields = await _read_upload(request)
    overwrite = str(fields.get("overwrite", "")).lower() in ("true", "1")
    limits = _limits(request)
    try:
        folder, filename, subfolder, kind, data = _target(request, fields)
        await asyncio.to_thread(images.check_image_bytes, data, limits)
        original = _mask_original(request, fields) if mask else None
        name, write = await asyncio.to_thread(_free_name, folder, filename, data, overwrite)
        dest = contained_join(folder, name)
    except ImageTooLargeError as exc:
        return json_error(413, "image_too_large", str(exc))
    except (ValueError, UnsafePathError) as exc:
        return json_error(400, "invalid_upload", str(exc))
    try:
        if original is not None:
            await asyncio.to_thread(images.merge_mask, original, data, dest, limits)
        elif write:
            await asyncio.to_thread(write_atomic, dest, data)
    except ImageTooLargeError as exc:
        return json_error(413, "image_too_large", str(exc))
    except OSError as exc:
        if is_storage_full(exc):
            return storage_unavailable(exc)
        return json_error(400, "invalid_upload", f"cannot store {name!r}", str(exc))
    except ValueError as exc:
        return json_error(400, "invalid_upload", f"cannot store {name!r}", str(exc))
    return web.json_response({"name": name, "subfolder": subfolder, "type": kind})


def _mask_original(request: web.Request, fields: dict) -> Path:
    """The image an uploaded mask applies to, from the `original_ref` JSON field."""
    try:
        ref = parse_json(fields.get("original_ref") or "")
    except (JsonBodyError, TypeError):
        raise ValueError("original_ref must be a JSON object with a filename") from None
    if not isinstance(ref, dict) or not isinstance(ref.get("filename"), str):
        raise ValueError("original_ref must be a JSON object with a filename")
    name, annotated = split_annotation(ref["filename"])
    kind = annotated or ref.get("type") or "output"
    if kind not in DIR_TYPES:
        raise ValueError(f"original_ref type must be one of {list(DIR_TYPES)}")
    base = services_of(request).folders.directory_of(kind)
    subfolder = check_subfolder(str(ref.get("subfolder") or ""))
    path = contained_join(base, subfolder, check_name(os.path.basename(name)))
    if not path.is_file():
        raise ValueError(f"original image {ref['filename']!r} not found in {kind}")
    return path


@routes.post("/upload/image")
async def upload_image(request: web.Request) -> web.Response:
    return await _upload(request, mask=False)


@routes.post("/upload/mask")
async def upload_mask(request: web.Request) -> web.Response:
    return await _upload(request, mask=True)
