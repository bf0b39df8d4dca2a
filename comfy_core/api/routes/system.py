"""/system_stats, /features and /extensions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from urllib.parse import quote

import psutil
from aiohttp import web

from comfy_core.api import protocol
from comfy_core.api.state import base_of, services_of

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


@routes.get("/system_stats")
async def system_stats(request: web.Request) -> web.Response:
    services = services_of(request)
    ram = psutil.virtual_memory()
    devices = services.device_stats() if services.device_stats else [_cpu_device()]
    system = {"os": os.name, "ram_total": ram.total,
              "ram_free": ram.available, "comfyui_version": COMFYUI_VERSION,
              "required_frontend_version": "", "installed_templates_version": None,
              "required_templates_version": None, "python_version": sys.version,
              "pytorch_version": _torch_version(), "embedded_python": False,
              "argv": redacted_argv(sys.argv, services.settings.auth_token),
              "platform": platform.platform()}
    return web.json_response({"system": system, "devices": devices})


@routes.get("/features")
async def features(request: web.Request) -> web.Response:
    """Answered while the nodes load too (settings only)."""
    settings = base_of(request).settings
    return web.json_response(protocol.server_feature_flags(settings.max_upload_bytes))


def extension_urls(services) -> list[str]:
    """JS files of the editor's core extensions and of every plugin's web directory."""
    urls: list[str] = []
    web_root = services.web_root
    core = web_root / "extensions" / "core" if web_root is not None else None
    if core is not None and core.is_dir():
        urls += [f"/extensions/core/{p.relative_to(core).as_posix()}"
                 for p in sorted(core.rglob("*.js"))]
    for name, folder in list(services.web_dirs.items()):
        web_dir = Path(folder)
        if not web_dir.is_dir():
            continue
        urls += [f"/extensions/{quote(name)}/{p.relative_to(web_dir).as_posix()}"
                 for p in sorted(web_dir.rglob("*.js"))]
    return urls


@routes.get("/extensions")
async def extensions(request: web.Request) -> web.Response:
    return web.json_response(extension_urls(services_of(request)))
