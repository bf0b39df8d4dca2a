"""Frontend support files: templates, node docs, plugin example workflows, translations.

- `/templates/<file>`: the workflow template packages (index, workflows, thumbnails, media);
  served at the bare path only, as ComfyUI does (the frontend asks for them as files).
- `/docs/<Node>/<lang>.md`: `comfyui-embedded-docs`, likewise bare.
- `/workflow_templates` and `/api/workflow_templates/<plugin>/<file>`: the example workflows
  plugins ship in folders whose name holds "example" or "workflow".
- `/i18n`: every plugin's `locales/<lang>/` files merged by language.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from aiohttp import web

from comfy_core.api.state import frontend_of, services_of
from comfy_core.api.static import file_in

log = logging.getLogger(__name__)
routes = web.RouteTableDef()  # registered at their path and under /api
file_routes = web.RouteTableDef()  # bare paths only
LOCALE_EXTRA_FILES = ("nodeDefs", "commands", "settings")


@file_routes.get("/templates/{path:.+}")
async def template_file(request: web.Request) -> web.StreamResponse:
    templates = frontend_of(request).templates
    path = await asyncio.to_thread(templates.path_for, request.match_info["path"])
    if path is None:
        raise web.HTTPNotFound(reason=f"no template file {request.match_info['path']}")
    return web.FileResponse(path)


@file_routes.get("/docs/{path:.+}")
async def doc_file(request: web.Request) -> web.StreamResponse:
    path = file_in(frontend_of(request).docs_root, request.match_info["path"])
    if path is None:
        raise web.HTTPNotFound(reason=f"no document {request.match_info['path']}")
    return web.FileResponse(path)


def _plugin_dirs(request: web.Request) -> list[Path]:
    """Folder plugins of every custom_nodes folder (loaded or not, as ComfyUI lists them)."""
    folders = services_of(request).folders
    return [d for base in folders.get_folder_paths("custom_nodes") if base.is_dir()
            for d in sorted(base.iterdir()) if d.is_dir()]


def _example_dirs(plugin: Path) -> list[Path]:
    return [d for d in sorted(plugin.iterdir()) if d.is_dir()
            and ("example" in d.name.lower() or "workflow" in d.name.lower())]


def example_workflows(plugins: list[Path]) -> dict[str, list[str]]:
    """plugin folder name -> names (without .json) of its example workflows."""
    found: dict[str, list[str]] = {}
    for plugin in plugins:
        names = sorted({p.stem for d in _example_dirs(plugin) for p in d.glob("*.json")})
        if names:
            found[plugin.name] = names
    return found


@routes.get("/workflow_templates")
async def workflow_templates(request: web.Request) -> web.Response:
    plugins = await asyncio.to_thread(_plugin_dirs, request)
    return web.json_response(await asyncio.to_thread(example_workflows, plugins))


@file_routes.get("/api/workflow_templates/{plugin}/{file:.+}")
async def workflow_template_file(request: web.Request) -> web.StreamResponse:
    name, rel = request.match_info["plugin"], request.match_info["file"]
    plugins = [p for p in await asyncio.to_thread(_plugin_dirs, request) if p.name == name]
    for folder in (d for p in plugins for d in _example_dirs(p)):
        path = file_in(folder, rel)
        if path is not None:
            return web.FileResponse(path)
    raise web.HTTPNotFound(reason=f"no example workflow {name}/{rel}")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("skipping translation file %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def merge_nested(base: dict, extra: dict) -> dict:
    """`extra` merged into a copy of `base`, objects recursively, other values replaced."""
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        merged[key] = merge_nested(old, value) if isinstance(old, dict) and isinstance(
            value, dict) else value
    return merged


def plugin_translations(plugins: list[Path]) -> dict[str, dict]:
    """language -> merged `locales/<lang>/main.json` (+ nodeDefs, commands, settings)."""
    out: dict[str, dict] = {}
    for plugin in plugins:
        locales = plugin / "locales"
        for lang in sorted(p for p in locales.iterdir() if p.is_dir()) if locales.is_dir() else ():
            data = _read_json(lang / "main.json") if (lang / "main.json").is_file() else {}
            for key in LOCALE_EXTRA_FILES:
                extra = lang / f"{key}.json"
                if extra.is_file() and (content := _read_json(extra)):
                    data[key] = content
            if data:
                out[lang.name] = merge_nested(out.get(lang.name, {}), data)
    return out


@routes.get("/i18n")
async def i18n(request: web.Request) -> web.Response:
    plugins = await asyncio.to_thread(_plugin_dirs, request)
    return web.json_response(await asyncio.to_thread(plugin_translations, plugins))
