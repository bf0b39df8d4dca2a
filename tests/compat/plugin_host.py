"""An in-process plugin host for the compat tests: ComfyUI's facades bound to a scratch
base, our built-in nodes registered, a CPU memory manager, fixture packs loaded by the
real loader, and the app context active until the host is released."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any, Iterator

import nodes
from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.memory import MemoryManager, MemoryOptions, VramState
from comfy_core.registry import NodeRegistry
from comfy_core.registry.custom_nodes import load_plugin
from comfy_core.registry.plugin_env import enable_facades, preload_facades
from comfy_core.runtime.plugin_host import release_host
from comfy_core.settings import Settings


@contextlib.contextmanager
def plugin_host(base: Path, packs: tuple[Path, ...] = ()) -> Iterator[Any]:
    """The bound plugin host over `base` with each of `packs` copied into custom_nodes/
    and loaded (the model-side facades preloaded first, as a pack may reach them)."""
    folders = FolderPaths.build(base)
    settings = Settings(base_directory=base)
    bound = enable_facades(folders, settings)
    bound.memory = MemoryManager(MemoryOptions(vram_state=VramState.DISABLED), "cpu")
    bound.registry = NodeRegistry()
    for module, (classes, titles) in nodes.mappings_by_python_module().items():
        bound.registry.register_mappings(classes, titles, module)
    if packs:
        preload_facades(model_side=True)
    for pack in packs:
        shutil.copytree(pack, base / "custom_nodes" / pack.name)
        report = load_plugin(bound.registry, base / "custom_nodes" / pack.name)
        assert report.error is None, report.error
    try:
        with runtime.use_app(runtime.AppContext(folders=folders, settings=settings,
                                                memory=bound.memory)):
            yield bound
    finally:
        release_host(bound)
