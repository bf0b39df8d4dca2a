"""The one container the server builds at start and hands down (no singletons).

`Services` is torch-free; `build_services` imports the built-in node packages and the
memory manager dynamically, so only a running server (not an import) pulls in torch.
Start-up is split so the port binds at once: `build_base_services` (folders, job store:
milliseconds) runs first, then `Startup.begin` runs `complete_services` (nodes, custom
nodes, executor, memory manager: seconds, torch) on one background thread.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from concurrent.futures import Future
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
    web_dirs: dict = field(default_factory=dict)  # plugin web folders by URL name
    device_stats: Callable[[], list[dict]] | None = None
    web_root: Any = None  # pathlib.Path of the editor's static files
    logs: Any = None  # comfy_core.api.logbuffer.LogBuffer
    extra: dict = field(default_factory=dict)
    # comfy_core.cluster.Cluster with --ray: runs the jobs on Ray workers instead of the
    # in-process worker (make_worker, recover, refusal); None otherwise.
    cluster: Any = None
    frontend: Any = None  # comfy_core.api.frontend.Frontend (templates, docs packages)


@dataclass(frozen=True)
class BaseServices:
    """The fast, torch-free part: all that static files, the security middlewares and the
    job store need, available before the nodes are imported."""

    settings: Settings
    folders: FolderPaths
    store: JobStore
    web_root: Any = None  # pathlib.Path of the editor's static files
    logs: Any = None  # comfy_core.api.logbuffer.LogBuffer
    frontend: Any = None  # comfy_core.api.frontend.Frontend

    @classmethod
    def of(cls, services: Services) -> BaseServices:
        return cls(settings=services.settings, folders=services.folders, store=services.store,
                   web_root=services.web_root, logs=services.logs, frontend=services.frontend)


def build_registry(settings: Settings, folders: FolderPaths,
                   builtin_modules: tuple[str, ...] = ("nodes",), *, memory: Any = None
                   ) -> tuple[Any, tuple, dict]:
    """Registry with the built-in node packages and the custom nodes; (registry, reports,
    plugin web folders). When the plugin facades are enabled (plugin_env.enable_facades),
    they are bound to this registry and memory manager and made reachable before the first
    pack as ComfyUI has them (the model-side submodules load on first use)."""
    from comfy_core.registry import NodeRegistry
    from comfy_core.registry.custom_nodes import LoadContext, load_custom_nodes
    from comfy_core.registry.manager import skip_rule, start_manager
    from comfy_core.registry.plugin_env import preload_facades
    from comfy_core.runtime.plugin_host import plugin_host_or_none

    registry = NodeRegistry()
    host = plugin_host_or_none()
    context = LoadContext(registry, base_dir=settings.base_directory)
    if host is not None:
        host.registry, host.memory = registry, memory
        context.web_dirs, context.module_dirs = host.web_dirs, host.module_dirs
        context.skip = skip_rule(host.manager)
    for module_name in builtin_modules:
        module = importlib.import_module(module_name)
        grouped = getattr(module, "mappings_by_python_module", None)
        groups = grouped() if callable(grouped) else {
            module_name: (getattr(module, "NODE_CLASS_MAPPINGS", {}),
                          getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", {}))}
        for python_module, (classes, names) in groups.items():
            registry.register_mappings(classes, names, python_module)
    if host is not None:
        started = time.perf_counter()
        preload_facades(model_side=bool(builtin_modules))
        log.info("ComfyUI plugin facades imported in %.2f s", time.perf_counter() - started)
        if host.manager is not None and not host.manager_started:
            start_manager(host.manager, settings)  # its routes, before the packs'
            host.manager_started = True
    dirs = [p for p in folders.get_folder_paths("custom_nodes") if p.is_dir()]
    reports = load_custom_nodes(registry, dirs, disable_all=settings.disable_all_custom_nodes,
                                allow=settings.whitelist_custom_nodes, context=context)
    return registry, tuple(reports), context.web_dirs


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


def build_base_services(settings: Settings, *, web_root: Any = None, logs: Any = None,
                        frontend: Any = None) -> BaseServices:
    """Folders (created) and the job store; no node or model code is imported."""
    folders = FolderPaths.from_settings(settings)
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir, folders.user_dir):
        d.mkdir(parents=True, exist_ok=True)
    scheme = "https" if settings.tls_certfile else "http"
    owner = f"serving {scheme}://{settings.listen[0]}:{settings.port}"
    store = JobStore(settings.resolved_database(), max_history=settings.max_history,
                     owner=owner)
    return BaseServices(settings=settings, folders=folders, store=store, web_root=web_root,
                        logs=logs, frontend=frontend)


def complete_services(base: BaseServices, *, builtin_modules: tuple[str, ...] = ("nodes",),
                      with_memory: bool = True) -> Services:
    """The slow part on top of `base`: registry (+ custom nodes), executor, memory manager."""
    memory, device_stats = build_memory(base.settings) if with_memory else (None, None)
    registry, reports, web_dirs = build_registry(base.settings, base.folders, builtin_modules,
                                                 memory=memory)
    return Services(settings=base.settings, folders=base.folders, registry=registry,
                    store=base.store, executor=build_executor(registry, base.settings),
                    memory=memory, plugins=reports, web_dirs=web_dirs,
                    device_stats=device_stats, web_root=base.web_root, logs=base.logs,
                    frontend=base.frontend)


def build_services(settings: Settings, *, builtin_modules: tuple[str, ...] = ("nodes",),
                   with_memory: bool = True, web_root: Any = None, logs: Any = None
                   ) -> Services:
    """Folders, registry (+ custom nodes), job store, executor and memory manager."""
    base = build_base_services(settings, web_root=web_root, logs=logs)
    return complete_services(base, builtin_modules=builtin_modules, with_memory=with_memory)


class Startup:
    """The full `Services`, being built on one background thread (or given ready).

    The future is marked running before the thread starts, so a waiter that is cancelled
    (a client that hung up during start-up) can never cancel the build itself."""

    def __init__(self, base: BaseServices, future: Future) -> None:
        self.base = base
        self._future = future

    @classmethod
    def done(cls, services: Services) -> Startup:
        """A Startup that is already complete (tests, embedding callers)."""
        future = _running_future()
        future.set_result(services)
        return cls(BaseServices.of(services), future)

    @classmethod
    def begin(cls, base: BaseServices,
              build: Callable[[BaseServices], Services] = complete_services) -> Startup:
        """Run `build(base)` on a daemon thread."""
        startup = cls(base, _running_future())
        threading.Thread(target=startup._run, args=(build,), name="comfy-startup", daemon=True).start()
        return startup

    def _run(self, build: Callable[[BaseServices], Services]) -> None:
        start = time.monotonic()
        try:
            services = build(self.base)
        except BaseException as exc:  # kept for every waiter; the server keeps running
            log.exception("loading the nodes failed; only the editor's static files are served")
            if not isinstance(exc, Exception):  # e.g. a plugin's sys.exit(): never re-raise
                exc = RuntimeError(f"loading the nodes raised {type(exc).__name__}: {exc}")
            self._future.set_exception(exc)
            return
        log.info("nodes ready in %.2f s (%d node types)", time.monotonic() - start,
                 len(services.registry))
        for plugin in services.plugins:
            state = " (IMPORT FAILED)" if plugin.error else ""
            log.info("custom nodes %s: %.1f s, %d node(s)%s", plugin.name, plugin.seconds,
                     len(plugin.node_names), state)
        self._future.set_result(services)

    @property
    def ready(self) -> bool:
        """Whether the build has finished (successfully or not)."""
        return self._future.done()

    @property
    def error(self) -> BaseException | None:
        """The build's exception once it failed, else None."""
        return self._future.exception() if self._future.done() else None

    def result(self, timeout: float | None = None) -> Services:
        """The built Services (blocking up to `timeout`); re-raises the build's error."""
        return self._future.result(timeout)

    async def wait(self) -> Services:
        """The built Services, awaited on the running loop; re-raises the build's error."""
        return await asyncio.wrap_future(self._future)


def _running_future() -> Future:
    future: Future = Future()
    future.set_running_or_notify_cancel()
    return future
