"""Switching ComfyUI's plugin interface on: the facade folder on sys.path, the plugin host
bound, and every facade reachable the way ComfyUI has it before the first pack
(COMPAT-PLUGINS 0.1).

The facades live together in `compat/` at the repository root (DESIGN "Growing into the
ecosystem"). Packs import them under ComfyUI's top-level names, so that folder goes on
sys.path once, right after the repository root. They are imported by name here (never
statically) because the model-side ones import torch: the engine half stays torch-free.

ComfyUI imports all its modules before the first pack, and packs rely on it: they import
`comfy.samplers` and then use `comfy.model_base` or `comfy.model_management` unimported.
Here the engine-side facades and the model-side top-level modules are imported before the
first pack; the model-side submodules of the namespace packages (`comfy.sd`,
`comfy.model_management`, `comfy_extras.nodes_*`, ...) load on first use instead: an
`import` loads them as usual, and a module `__getattr__` (PEP 562) put into each namespace
package loads one on first attribute access, so `import comfy` then `comfy.sd.X` still
works. A pack that deletes the modules first imported during its own import gets them put
back by the loader (plugin_import.reinstate_submodules), so no facade ever exists twice.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from comfy_core.runtime.plugin_host import PluginHost, bind_host

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
COMPAT_DIR = ROOT / "compat"

# Facades that import no torch: safe for prestartup scripts and the engine half.
ENGINE_FACADES = (
    "folder_paths", "comfy.options", "comfy.cli_args", "comfy.comfy_types",
    "comfy.comfy_types.node_typing", "protocol", "server",
    "comfy_execution.graph_utils", "comfy_execution.graph", "comfy_api.feature_flags",
    "comfy_api.latest", "comfy_api.v0_0_2",
)
# Facades over the model stack (torch). The top-level ones are imported on the start-up
# thread after the nodes (a pack can only reach them by importing them, and the loader
# cannot put back a top-level module a pack deleted); the rest load on first use.
EAGER_MODEL_FACADES = ("nodes", "node_helpers", "latent_preview", "execution")
MODEL_FACADES = EAGER_MODEL_FACADES + (
    "comfy.utils", "comfy.model_management", "comfy.k_diffusion.sampling",
    "comfy.samplers", "comfy.sample", "comfy.sampler_helpers", "comfy.controlnet",
    "comfy.diffusers_convert", "comfy.model_sampling", "comfy.model_patcher", "comfy.patcher_extension",
    "comfy.model_base", "comfy.model_detection", "comfy.latent_formats", "comfy.lora", "comfy.weight_adapter",
    "comfy.ops", "comfy.float", "comfy.sd", "comfy.hooks", "comfy.cldm.cldm", "comfy.taesd.taesd",
    "comfy.ldm.util", "comfy.ldm.modules.attention", "comfy.ldm.modules.diffusionmodules.openaimodel",
    "comfy.ldm.modules.diffusionmodules.util", "comfy.ldm.modules.distributions.distributions",
    "comfy.ldm.flux.math", "comfy.ldm.lumina.model", "comfy_extras.chainner_models.model_loading",
    "comfy.sd1_clip", "comfy.sdxl_clip", "comfy.clip_vision", "comfy.conds",
    "comfy_api.latest._ui",
) + tuple(f"comfy_extras.{p.stem}" for p in sorted((COMPAT_DIR / "comfy_extras").glob("nodes_*.py")))
# ComfyUI's top-level names (COMPAT-PLUGINS 0.4) that a pack must not claim as its own.
RESERVED_NAMES = frozenset(
    {name.split(".")[0] for name in ENGINE_FACADES + MODEL_FACADES}
    | {"comfy", "comfy_extras", "comfy_execution", "comfy_api", "execution", "node_helpers",
       "latent_preview", "main", "utils", "app", "api_server", "middleware", "comfy_config",
       "comfy_api_nodes", "comfyui_version"})
# The packages whose submodules a pack may delete from sys.modules (see reinstate_submodules).
OWN_PACKAGES = ("comfy_core", "nodes", "comfy", "comfy_extras", "comfy_execution", "comfy_api")


def put_facades_on_path() -> None:
    """`compat/` on sys.path (once), just after the repository root when that is there."""
    entry = str(COMPAT_DIR)
    if entry in sys.path:
        return
    root = str(ROOT)
    position = sys.path.index(root) + 1 if root in sys.path else 0
    sys.path.insert(position, entry)


def enable_facades(folders: Any, settings: Any) -> PluginHost:
    """Put the facades on sys.path and bind them to this engine's folders and settings;
    returns the host, which start-up fills further (memory, registry, server)."""
    put_facades_on_path()
    return bind_host(PluginHost(folders=folders, settings=settings))


def preload_facades(*, model_side: bool) -> None:
    """Import the engine-side facades and, where the model stack is loaded anyway
    (`model_side`), the model-side top-level ones; make every other facade load on first
    use, also when reached as an attribute of its package."""
    put_facades_on_path()
    names = ENGINE_FACADES + (EAGER_MODEL_FACADES if model_side else ())
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # a broken facade must not keep the built-in nodes from loading
            log.exception("ComfyUI facade module %s failed to import", name)
    for package in namespace_packages():
        load_submodules_on_access(importlib.import_module(package))


def namespace_packages() -> list[str]:
    """ComfyUI's namespace packages under compat/ (folders without `__init__.py`), parents
    first; importing one runs no code."""
    found = []
    for folder in sorted(COMPAT_DIR.rglob("*")):
        if folder.is_dir() and folder.name != "__pycache__" and not (folder / "__init__.py").exists():
            found.append(".".join(folder.relative_to(COMPAT_DIR).parts))
    return found


def load_submodules_on_access(package: ModuleType) -> None:
    """Give a namespace package a module `__getattr__` (PEP 562) that imports a submodule
    on first attribute access. It is set from here because a namespace package has no
    `__init__.py` to define it (ComfyUI's packages have none either, COMPAT-PLUGINS 0.2)."""
    if "__getattr__" not in vars(package):
        package.__getattr__ = _submodule_loader(package)


def _submodule_loader(package: ModuleType) -> Callable[[str], ModuleType]:
    def __getattr__(name: str) -> ModuleType:
        if not name.startswith("__") and any(
                Path(folder, name).is_dir() or Path(folder, f"{name}.py").is_file()
                for folder in package.__path__):
            return importlib.import_module(f"{package.__name__}.{name}")
        raise AttributeError(f"module {package.__name__!r} has no attribute {name!r}")

    return __getattr__
