"""Load third-party node packs from the custom_nodes folders (COMPAT-PLUGINS 1).

A pack is a `*.py` module or a folder with `__init__.py` that exports NODE_CLASS_MAPPINGS
(V1 or V3 classes; optional NODE_DISPLAY_NAME_MAPPINGS, WEB_DIRECTORY) or a V3
`comfy_entrypoint`. Packs import one after the other, each under ComfyUI's module name
(plugin_import.py). Registration follows ComfyUI: names of built-in nodes are never replaced,
a later pack overwrites an earlier pack's node, display names are merged, every registered
class gets RELATIVE_PYTHON_MODULE. A pack that fails is reported with its real cause
(plugin_failures.py) and adds no nodes; the others and the server carry on.

Entries are taken in name order within each folder (ComfyUI takes os.listdir order, which
is arbitrary: name order is one such order, and the same on every machine).
"""

from __future__ import annotations

import logging
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable

from comfy_core.registry.plugin_failures import (
    Diagnosis,
    diagnose_exception,
    diagnose_swallowed,
)
from comfy_core.registry.plugin_import import (
    FailedImport,
    import_pack,
    module_name_for,
    recording_failed_imports,
    reinstate_submodules,
    unique_failures,
)
from comfy_core.registry.plugin_env import OWN_PACKAGES
from comfy_core.registry.registry import CUSTOM_PREFIX, NodeRegistry

log = logging.getLogger(__name__)
NO_EXPORTS = ("Skip {path} module for custom nodes due to the lack of NODE_CLASS_MAPPINGS "
              "or NODES_LIST (need one).")


@dataclass(frozen=True)
class PluginReport:
    """What happened to one pack. `error` holds the traceback text when it failed, `cause`
    one line naming the real reason and `hint` what to do; `caught` lists import failures
    the pack caught itself (optional features, or the reason for a later NameError)."""

    name: str
    path: Path
    seconds: float
    error: str | None
    web_dir: Path | None
    node_names: tuple[str, ...]
    cause: str | None = None
    hint: str | None = None
    caught: tuple[str, ...] = ()
    module_name: str | None = None

    @property
    def status(self) -> str:
        return "failed" if self.error else "ok"

    def as_json(self) -> dict:
        return {"name": self.name, "path": str(self.path), "status": self.status,
                "seconds": round(self.seconds, 3), "nodes": list(self.node_names),
                "web_dir": str(self.web_dir) if self.web_dir else None, "cause": self.cause,
                "hint": self.hint, "caught_import_failures": list(self.caught),
                "traceback": self.error}


@dataclass
class LoadContext:
    """Shared by every pack of one load: where web folders and module folders are noted
    (ComfyUI's nodes.EXTENSION_WEB_DIRS / LOADED_MODULE_DIRS: the same dicts packs see)."""

    registry: NodeRegistry
    web_dirs: dict = field(default_factory=dict)
    module_dirs: dict = field(default_factory=dict)
    base_dir: Path | None = None
    skip: Callable[[Path], bool] | None = None  # e.g. ComfyUI-Manager's should_be_disabled


def find_plugins(dirs: list[Path]) -> list[Path]:
    """Pack entries of each folder in name order; skips *.disabled, __pycache__, non-py."""
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


def allowed(path: Path, disable_all: bool, allow: frozenset[str] | None) -> bool:
    """--disable-all-custom-nodes loads only the allow-listed packs (file or folder name)."""
    if not disable_all:
        return True
    return allow is not None and (path.name in allow or plugin_name(path) in allow)


def load_custom_nodes(registry: NodeRegistry, dirs: list[Path], *, disable_all: bool = False,
                      allow: frozenset[str] | None = None,
                      context: LoadContext | None = None) -> list[PluginReport]:
    """Import every pack found in `dirs` and register its nodes; never raises for a pack."""
    context = context if context is not None else LoadContext(registry)
    reports = []
    for path in find_plugins(dirs):
        if not allowed(path, disable_all, allow):
            log.info("custom node %s skipped (custom nodes disabled)", path.name)
            continue
        if context.skip is not None and context.skip(path):
            log.info("custom node %s skipped (disabled by ComfyUI-Manager)", path.name)
            continue
        reports.append(load_plugin(context, path))
    _log_summary(reports)
    return reports


def load_plugin(context: NodeRegistry | LoadContext, path: Path) -> PluginReport:
    """Import one pack and register its nodes; failures become the report's error."""
    if isinstance(context, NodeRegistry):
        context = LoadContext(context)
    name, module_name = plugin_name(path), module_name_for(path)
    start = time.perf_counter()
    failed: list[FailedImport] = []
    try:
        with recording_failed_imports(path) as failed:
            module = import_pack(path, module_name)
            names = _register(context, module, path, name)
            web_dir = _web_directory(context, module, path)
    except BaseException as exc:  # a pack calling sys.exit() must not stop the server
        if isinstance(exc, KeyboardInterrupt):
            raise
        _reinstate(path)
        return _failure(context, path, name, module_name, exc, unique_failures(failed), start)
    _reinstate(path)
    caught = unique_failures(failed)
    note = diagnose_swallowed(caught, path, context.base_dir)
    if note is not None:
        text = note.cause + (f"; fix: {note.hint}" if note.hint else "")
        log.info("custom nodes %s %s", path, text)
        context.registry.set_module_note(f"{CUSTOM_PREFIX}.{name}", text)
    context.module_dirs[name] = str(path if path.is_dir() else path.parent)
    return PluginReport(name, path, time.perf_counter() - start, None, web_dir, names,
                        caught=tuple(f.message for f in caught), module_name=module_name)


def _reinstate(path: Path) -> None:
    restored = reinstate_submodules(OWN_PACKAGES)
    if restored:
        log.info("custom nodes %s removed %d of our modules from sys.modules; put back",
                 path, len(restored))


def _failure(context: LoadContext, path: Path, name: str, module_name: str,
             exc: BaseException, caught: list[FailedImport], start: float) -> PluginReport:
    if isinstance(exc, _NoExports):
        diagnosis, text = Diagnosis(str(exc)), str(exc)
        log.warning("%s", exc)
    else:
        diagnosis = diagnose_exception(exc, path, context.base_dir, caught)
        text = traceback.format_exc()
        log.warning("%s\nCannot import %s module for custom nodes: %s\n  cause: %s%s", text,
                    path, exc, diagnosis.cause, f"\n  fix: {diagnosis.hint}" if diagnosis.hint else "")
    return PluginReport(name, path, time.perf_counter() - start, text, None, (),
                        diagnosis.cause, diagnosis.hint, tuple(f.message for f in caught),
                        module_name)


class _NoExports(Exception):
    """The pack has neither NODE_CLASS_MAPPINGS nor comfy_entrypoint."""


def _register(context: LoadContext, module: ModuleType, path: Path, name: str) -> tuple[str, ...]:
    """NODE_CLASS_MAPPINGS (when not None) wins over comfy_entrypoint; `{}` still counts."""
    python_module = f"{CUSTOM_PREFIX}.{name}"
    mappings = getattr(module, "NODE_CLASS_MAPPINGS", None)
    registry = context.registry
    if mappings is not None:
        if not isinstance(mappings, dict):
            raise TypeError(f"NODE_CLASS_MAPPINGS of {path.name} is a "
                            f"{type(mappings).__name__}, not a dict")
        names = registry.register_mappings(mappings, None, python_module)
        registry.merge_display_names(getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", None))
        return tuple(names)
    entrypoint = getattr(module, "comfy_entrypoint", None)
    if entrypoint is None:
        raise _NoExports(NO_EXPORTS.format(path=path))
    from comfy_core.registry.v3.extension import register_entrypoint

    try:
        return tuple(register_entrypoint(registry, entrypoint, python_module))
    except Exception as exc:
        raise RuntimeError(f"Error while calling comfy_entrypoint in {path}: {exc}") from exc


def _web_directory(context: LoadContext, module: ModuleType, path: Path) -> Path | None:
    """WEB_DIRECTORY (key: the pack's folder name) and `[tool.comfy] web` of its
    pyproject.toml (key: its [project] name); a folder that does not exist is ignored."""
    root = path if path.is_dir() else path.parent
    found: Path | None = None
    rel = getattr(module, "WEB_DIRECTORY", None)
    if isinstance(rel, str) and rel:
        found = _existing_dir(root / rel, path)
        if found is not None:
            context.web_dirs[plugin_name(path)] = str(found)
    project, web = _pyproject_web(path)
    if web:
        from_toml = _existing_dir(root / web, path)
        if from_toml is not None:
            context.web_dirs[project or plugin_name(path)] = str(from_toml)
            found = found or from_toml
    return found


def _existing_dir(candidate: Path, pack: Path) -> Path | None:
    web = candidate.resolve()
    if not web.is_dir():
        log.warning("%s: web directory %s is not a folder; ignored", pack, candidate)
        return None
    return web


def _pyproject_web(path: Path) -> tuple[str | None, str | None]:
    toml = path / "pyproject.toml"
    if not path.is_dir() or not toml.is_file():
        return None, None
    try:
        data = tomllib.loads(toml.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        log.warning("%s: unreadable pyproject.toml: %s", path, exc)
        return None, None
    web = data.get("tool", {}).get("comfy", {}).get("web")
    project = data.get("project", {}).get("name")
    return (project if isinstance(project, str) else None), (web if isinstance(web, str) else None)


def _log_summary(reports: list[PluginReport]) -> None:
    if not reports:
        return
    lines = ["Import times for custom nodes:"]
    for r in sorted(reports, key=lambda r: r.seconds):
        status = " (IMPORT FAILED)" if r.error else ""
        lines.append(f"  {r.seconds:6.1f} seconds{status}: {r.path}")
    failed = [r for r in reports if r.error]
    if failed:
        lines.append("Custom node packs that failed to import:")
        for r in failed:
            lines.append(f"  {r.name}: {r.cause}")
            if r.hint:
                lines.append(f"    fix: {r.hint}")
    log.info("\n".join(lines))
