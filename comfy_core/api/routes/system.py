"""/system_stats, /features and /extensions."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from urllib.parse import quote

import psutil
from aiohttp import web

from comfy_core.api.frontend import distribution_version
from comfy_core.api.keys import PLUGIN_SERVER
from comfy_core.api.state import base_of, frontend_of, services_of, state_of
from comfy_core.api.static import registered_extension_dirs

routes = web.RouteTableDef()
COMFYUI_VERSION = "0.8.0"
REDACTED = "<redacted>"
_SECRET_FLAG = "--auth-token"


def redacted_argv(argv: list[str], token: str | None) -> list[str]:
    """`argv` without the auth token: the value after `--auth-token` (or an argparse
    abbreviation of it such as `--auth`), `--auth-token=X`, and the token wherever else it
    appears."""
    shown: list[str] = []
    hide_next = False
    for arg in argv:
        flag, eq, _ = arg.partition("=")
        is_flag = len(flag) > len("--au") and _SECRET_FLAG.startswith(flag)
        if hide_next:
            shown.append(REDACTED)
        elif is_flag and eq:
            shown.append(f"{flag}={REDACTED}")
        elif token and token in arg:
            shown.append(arg.replace(token, REDACTED))
        else:
            shown.append(arg)
        hide_next = is_flag and not eq and not hide_next
    return shown


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _torch_version() -> str:
    """The running torch's version (the nodes import it), else the installed one's: reading
    package metadata on every request costs file reads and leaves cycles to collect."""
    torch = sys.modules.get("torch")
    return str(torch.__version__) if torch is not None else _package_version("torch")


def _cpu_device() -> dict:
    ram = psutil.virtual_memory()
    return {"name": "cpu", "type": "cpu", "index": None, "vram_total": ram.total,
            "vram_free": ram.available, "torch_vram_total": ram.total,
            "torch_vram_free": ram.available}


def _package_versions(required: dict[str, str]) -> dict:
    """The frontend and templates versions the frontend checks at start (it warns when the
    installed one is older than the required one)."""
    return {"required_frontend_version": required.get("comfyui-frontend-package", ""),
            "installed_templates_version": distribution_version("comfyui-workflow-templates"),
            "required_templates_version": required.get("comfyui-workflow-templates")}


@routes.get("/system_stats")
async def system_stats(request: web.Request) -> web.Response:
    services = services_of(request)
    ram = psutil.virtual_memory()
    devices = services.device_stats() if services.device_stats else [_cpu_device()]
    system = {"os": os.name, "ram_total": ram.total,
              "ram_free": ram.available, "comfyui_version": COMFYUI_VERSION,
              **_package_versions(frontend_of(request).required),
              "python_version": sys.version,
              "pytorch_version": _torch_version(), "embedded_python": False,
              "argv": redacted_argv(sys.argv, services.settings.auth_token),
              "platform": platform.platform()}
    return web.json_response({"system": system, "devices": devices})


@routes.get("/features")
async def features(request: web.Request) -> web.Response:
    """Answered while the nodes load too (settings only)."""
    return web.json_response(request.app[PLUGIN_SERVER].feature_flags)


def extension_urls(web_root: Path | None, dirs: dict[str, Path], builtin: list[str]) -> list[str]:
    """Every JS file under the web root's `extensions/` folder, the server's own extension
    (`builtin`), then the files of each registered folder (`/extensions/<name>/<path>`)."""
    urls: list[str] = []
    own = Path(web_root) / "extensions" if web_root is not None else None
    if own is not None and own.is_dir():
        urls += [f"/extensions/{p.relative_to(own).as_posix()}" for p in sorted(own.rglob("*.js"))]
    urls += builtin
    for name, folder in dirs.items():
        if folder.is_dir():
            urls += [f"/extensions/{quote(name)}/{p.relative_to(folder).as_posix()}"
                     for p in sorted(folder.rglob("*.js"))]
    return urls


@routes.get("/extensions")
async def extensions(request: web.Request) -> web.Response:
    state = state_of(request)
    dirs = registered_extension_dirs(state)
    urls = await asyncio.to_thread(extension_urls, base_of(request).web_root, dirs,
                                   state.frontend.builtin_extension_urls())
    return web.json_response(urls)
