"""The one container the server builds at start and hands down (no singletons).

`Services` is torch-free; `build_services` imports the built-in node packages and the
memory manager dynamically, so only a running server (not an import) pulls in torch.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from comfy_core.files import FolderPaths
from comfy_core.jobs import JobStore
from comfy_core.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """What the app and the worker use. `memory` and `device_stats` are None on setups
    without the model stack (tests of the engine half)."""

    settings: Settings
    folders: FolderPaths
    registry: Any  # comfy_core.registry.NodeRegistry
    store: JobStore
    executor: Any  # comfy_core.execution.executor.Executor
    memory: Any = None  # comfy_core.memory.MemoryManager
    plugins: tuple = ()  # comfy_core.registry.custom_nodes.PluginReport
    device_stats: Callable[[], list[dict]] | None = None
    web_root: Any = None  # pathlib.Path of the editor's static files
    logs: Any = None  # comfy_core.api.logbuffer.LogBuffer
    extra: dict = field(default_factory=dict)


def build_registry(settings: Settings, folders: FolderPaths,
                   builtin_modules: tuple[str, ...] = ("nodes",)) -> tuple[Any, tuple]:
    """Registry with the built-in node packages and the custom nodes; (registry, reports)."""
    from comfy_core.registry import NodeRegistry
    from comfy_core.registry.custom_nodes import load_custom_nodes

    registry = NodeRegistry()
    for module_name in builtin_modules:
        module = importlib.import_module(module_name)
        grouped = getattr(module, "mappings_by_python_module", None)
        groups = grouped() if callable(grouped) else {
            module_name: (getattr(module, "NODE_CLASS_MAPPINGS", {}),
                          getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", {}))}
        for python_module, (classes, names) in groups.items():
            registry.register_mappings(classes, names, python_module)
    dirs = [p for p in folders.get_folder_paths("custom_nodes") if p.is_dir()]
    reports = load_custom_nodes(registry, dirs, disable_all=settings.disable_all_custom_nodes,
                                allow=settings.whitelist_custom_nodes)
    return registry, tuple(reports)


def build_executor(registry: Any, settings: Settings) -> Any:
    from comfy_core.execution.cache import make_cache
    from comfy_core.execution.executor import Executor

    cache = make_cache(settings.cache_kind, lru_size=settings.cache_lru_size,
                       ram_headroom_gb=settings.cache_ram_gb)
    return Executor(registry, cache)


def build_memory(settings: Settings) -> tuple[Any, Callable[[], list[dict]] | None]:
    """The MemoryManager and a /system_stats device reporter, or (None, None) when the
    model stack cannot be imported."""
    try:
        memory_pkg = importlib.import_module("comfy_core.memory")
    except ImportError as exc:
        log.warning("memory manager unavailable (%s); running without model support", exc)
        return None, None
    options = memory_pkg.MemoryOptions.from_settings(settings.memory)
    manager = memory_pkg.MemoryManager(options)
    return manager, manager.stats


def build_services(settings: Settings, *, builtin_modules: tuple[str, ...] = ("nodes",),
                   with_memory: bool = True, web_root: Any = None, logs: Any = None
                   ) -> Services:
    """Folders, registry (+ custom nodes), job store, executor and memory manager."""
    folders = FolderPaths.from_settings(settings)
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir, folders.user_dir):
        d.mkdir(parents=True, exist_ok=True)
    registry, reports = build_registry(settings, folders, builtin_modules)
    store = JobStore(settings.resolved_database(), max_history=settings.max_history)
    memory, device_stats = build_memory(settings) if with_memory else (None, None)
    return Services(settings=settings, folders=folders, registry=registry, store=store,
                    executor=build_executor(registry, settings), memory=memory,
                    plugins=reports, device_stats=device_stats, web_root=web_root, logs=logs)
