"""The one process-wide binding that ComfyUI's plugin facades read.

ComfyUI's plugin interface is made of module-level names: `folder_paths.folder_names_and_paths`,
`PromptServer.instance`, `comfy.cli_args.args`, `nodes.NODE_CLASS_MAPPINGS`. Packs read them
at import time and long after, from the start-up thread, the worker, the event loop and
threads of their own, so a contextvar cannot carry them. The facades (the `compat/` folder,
`server.py`, the ComfyUI names in `nodes`) therefore read one PluginHost, bound by whoever
starts the engine (server.py, the command-line runner, test fixtures) before any plugin
code runs. The engine itself never reads it: it keeps receiving Services and the runtime
AppContext. The one exception is `replaced_step_function`: the sampling step asks it
whether a pack has replaced one of ComfyUI's per-step functions (late binding). The host holds references to the server's own objects, never copies, so there
is one source of truth for folders, nodes and settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class PluginHost:
    """What the facades speak for. Fields fill in as start-up proceeds: folders and settings
    at once, then the memory manager and the node registry on the start-up thread. (The plugin
    server is ComfyUI's own singleton, `PromptServer.instance`.)"""

    folders: Any  # comfy_core.files.FolderPaths (its `table` is folder_names_and_paths)
    settings: Any  # comfy_core.settings.Settings
    registry: Any = None  # comfy_core.registry.NodeRegistry, filled while nodes load
    memory: Any = None  # comfy_core.memory.MemoryManager
    args: Any = None  # ComfyUI's mutable `args` namespace, made by comfy.cli_args on first use
    # nodes.EXTENSION_WEB_DIRS {url name: folder} and LOADED_MODULE_DIRS {pack: folder}:
    # the loader and packs write them, /extensions serves the first.
    web_dirs: dict = field(default_factory=dict)
    module_dirs: dict = field(default_factory=dict)
    manager: Any = None  # the ComfyUI-Manager package when --enable-manager loaded it
    manager_started: bool = False
    # comfy_api.feature_flags.SERVER_FEATURE_FLAGS while no PromptServer exists (the server's
    # own dict once one does: entry points build PromptServer before prestartup scripts).
    feature_flags: dict | None = None
    # ComfyUI per-step functions a pack has replaced by assigning the facade's module
    # attribute (`comfy.samplers.sampling_function = ...`), by name; empty when none is.
    replaced_steps: dict = field(default_factory=dict)


_bound: list[PluginHost] = []  # at most one entry: the host of this process


def bind_host(host: PluginHost) -> PluginHost:
    """Make `host` the one the facades read (a later server in the same process, e.g. in
    tests, replaces the earlier one)."""
    _bound[:] = [host]
    return host


def release_host(host: PluginHost) -> None:
    """Unbind `host` if it is the bound one (a server or test that is done with it)."""
    if _bound and _bound[0] is host:
        _bound.clear()


def plugin_host() -> PluginHost:
    """The bound host; a clear error when plugin code runs before any engine started."""
    if not _bound:
        raise RuntimeError("ComfyUI plugin facades used before the server bound them "
                           "(start the server or call comfy_core.registry.plugin_env."
                           "enable_facades first)")
    return _bound[0]


def plugin_host_or_none() -> PluginHost | None:
    return _bound[0] if _bound else None


def replaced_step_function(name: str) -> Any:
    """A pack's replacement of ComfyUI's per-step function `name` (see
    comfy_core.sampling.model_call.LATE_BOUND), or None: the sampling path's one look-up."""
    return _bound[0].replaced_steps.get(name) if _bound and _bound[0].replaced_steps else None
