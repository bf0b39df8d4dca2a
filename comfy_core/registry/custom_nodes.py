"""Load third-party node plugins from custom_nodes folders (ComfyUI's plugin convention).

A plugin is a `*.py` module or a folder with `__init__.py` exporting NODE_CLASS_MAPPINGS
(optional NODE_DISPLAY_NAME_MAPPINGS and WEB_DIRECTORY), or, V3 style, a
`comfy_entrypoint()` returning a ComfyExtension (NODE_CLASS_MAPPINGS wins when both exist). Each is imported under a unique
`custom_nodes.<name>` module name; its parent folder is on sys.path only while it imports.
One failing plugin is reported (traceback, time) and the others still load.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
import tomllib
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from comfy_core.registry.registry import CUSTOM_PREFIX, NodeRegistry
from comfy_core.registry.v3.extension import register_entrypoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginReport:
    """What happened to one plugin; `error` holds the traceback text when it failed."""

    name: str
    path: Path
    seconds: float
    error: str | None
    web_dir: Path | None
    node_names: tuple[str, ...]


def find_plugins(dirs: list[Path]) -> list[Path]:
    """Plugin entries in each folder, sorted by name; skips *.disabled, __pycache__, non-py."""
    found: list[Path] = []
    for base in dirs:
        base = Path(base)
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir(), key=lambda p: p.name):
            if entry.name == "__pycache__" or entry.name.endswith(".disabled"):
                continue
            if entry.is_file() and entry.suffix == ".py" and entry.name != "__init__.py":
                found.append(entry)
            elif entry.is_dir() and (entry / "__init__.py").is_file():
                found.append(entry)
    return found


def plugin_name(path: Path) -> str:
    return path.stem if path.is_file() else path.name


def _allowed(path: Path, disable_all: bool, allow: frozenset[str] | None) -> bool:
    """--disable-all-custom-nodes loads only the allow-listed plugins (file or folder name)."""
    if not disable_all:
        return True
    return allow is not None and (path.name in allow or plugin_name(path) in allow)


def load_custom_nodes(
    registry: NodeRegistry,
    dirs: list[Path],
    *,
    disable_all: bool = False,
    allow: frozenset[str] | None = None,
) -> list[PluginReport]:
    """Import every plugin found in `dirs` and register its nodes; never raises for a plugin."""
    reports = []
    for path in find_plugins(dirs):
        if not _allowed(path, disable_all, allow):
            log.info("custom node %s skipped (custom nodes disabled)", path.name)
            continue
        reports.append(load_plugin(registry, path))
    _log_summary(reports)
    return reports


def load_plugin(registry: NodeRegistry, path: Path) -> PluginReport:
    """Import one plugin and register its mappings; failures become the report's error."""
    name = plugin_name(path)
    start = time.perf_counter()
    error: str | None = None
    web_dir: Path | None = None
    names: tuple[str, ...] = ()
    try:
        module = _import_plugin(path, _unique_module_name(name))
        web_dir = _web_directory(module, path)
        names = tuple(_register_module(registry, module, path, f"{CUSTOM_PREFIX}.{name}"))
    except BaseException as exc:  # a plugin calling sys.exit() must not stop the server
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = traceback.format_exc()
        log.warning("Cannot import %s module for custom nodes: %s\n%s", path, exc, error)
    return PluginReport(name, path, time.perf_counter() - start, error, web_dir, names)


def _register_module(registry: NodeRegistry, module: ModuleType, path: Path,
                     python_module: str) -> list[str]:
    """NODE_CLASS_MAPPINGS (classic or V3 classes), else the V3 comfy_entrypoint."""
    mappings = getattr(module, "NODE_CLASS_MAPPINGS", None)
    if isinstance(mappings, dict):
        return registry.register_mappings(
            mappings, getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", None), python_module)
    entrypoint = getattr(module, "comfy_entrypoint", None)
    if entrypoint is not None:
        return register_entrypoint(registry, entrypoint, python_module)
    raise ImportError(f"{path.name} exports neither a NODE_CLASS_MAPPINGS dict nor a "
                      "comfy_entrypoint")


def _unique_module_name(name: str) -> str:
    base = f"{CUSTOM_PREFIX}.{name.replace('.', '_')}"
    candidate, n = base, 1
    while candidate in sys.modules:
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def _import_plugin(path: Path, module_name: str) -> ModuleType:
    """Import a file or package under `module_name`, with its folder on sys.path meanwhile."""
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            module_name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot build an import spec for {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    parent = str(path.parent)
    added = parent not in sys.path
    if added:
        sys.path.insert(0, parent)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        if added and parent in sys.path:
            sys.path.remove(parent)
    return module


def _web_directory(module: ModuleType, path: Path) -> Path | None:
    """WEB_DIRECTORY from the module, else `[tool.comfy] web` from the plugin's pyproject."""
    root = path if path.is_dir() else path.parent
    rel = getattr(module, "WEB_DIRECTORY", None)
    if rel is None and path.is_dir() and (path / "pyproject.toml").is_file():
        try:
            data = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
            rel = data.get("tool", {}).get("comfy", {}).get("web")
        except (OSError, tomllib.TOMLDecodeError, AttributeError) as exc:
            log.warning("%s: unreadable pyproject.toml: %s", path, exc)
    if not isinstance(rel, str) or not rel:
        return None
    web = (root / rel).resolve()
    if not web.is_dir():
        log.warning("%s: WEB_DIRECTORY %r is not a folder", path, rel)
        return None
    return web


def _log_summary(reports: list[PluginReport]) -> None:
    if not reports:
        return
    lines = ["Import times for custom nodes:"]
    for r in sorted(reports, key=lambda r: r.seconds):
        status = " (IMPORT FAILED)" if r.error else ""
        lines.append(f"  {r.seconds:6.1f} seconds{status}: {r.path}")
    log.info("\n".join(lines))
