"""ComfyUI's names in the `nodes` module that custom-node packs use (COMPAT-PLUGINS 4).

Packs `import nodes` and expect ComfyUI's module there: `MAX_RESOLUTION`, the node classes
by name (`nodes.VAEDecode().decode(vae, samples)`), `NODE_CLASS_MAPPINGS` holding every
node (core and other packs'), `EXTENSION_WEB_DIRS`, `common_ksampler`, `load_custom_node`.
They are thin views of the running server (its registry, web folders, interrupt) through
the plugin host; without a bound host they fall back to the built-in nodes.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, Iterator

from comfy_core.runtime.plugin_host import plugin_host, plugin_host_or_none
from nodes.common import MAX_RESOLUTION, check_interrupt
from nodes.sampling import run_ksampler

__all__ = ["MAX_RESOLUTION", "LiveNodeMappings", "before_node_execution", "common_ksampler",
           "init_extra_nodes", "interrupt_processing", "load_custom_node", "module_views"]


class LiveNodeMappings(MutableMapping):
    """`nodes.NODE_CLASS_MAPPINGS`: the running registry's classes by name (core, extras
    and every pack loaded so far), the built-in classes when no server runs. Assigning
    registers a class as a custom node (core names stay core)."""

    def __init__(self, builtin: dict[str, type]) -> None:
        self._builtin = builtin

    @staticmethod
    def _registry() -> Any:
        host = plugin_host_or_none()
        return host.registry if host is not None else None

    def __getitem__(self, name: str) -> type:
        registry = self._registry()
        schema = registry.get(name) if registry is not None else None
        if schema is not None:
            return schema.cls
        return self._builtin[name]

    def __setitem__(self, name: str, cls: type) -> None:
        registry = self._registry()
        if registry is None:
            self._builtin[name] = cls
        else:
            registry.register_mappings({name: cls}, None, "custom_nodes")

    def __delitem__(self, name: str) -> None:
        raise TypeError(f"node {name!r} cannot be removed from the running server's registry")

    def __iter__(self) -> Iterator[str]:
        registry = self._registry()
        names = registry.names() if registry is not None else []
        yield from names
        seen = set(names)
        yield from (n for n in self._builtin if n not in seen)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        registry = self._registry()
        return (registry is not None and name in registry) or name in self._builtin

    def __repr__(self) -> str:
        return f"<NODE_CLASS_MAPPINGS: {len(self)} nodes>"


_fallback: dict[str, dict] = {"EXTENSION_WEB_DIRS": {}, "LOADED_MODULE_DIRS": {}}


def module_views(name: str) -> Any:
    """`nodes.EXTENSION_WEB_DIRS` {url name: folder} and `LOADED_MODULE_DIRS` {pack:
    folder}: the server's own dicts (what /extensions serves), packs may add to them."""
    host = plugin_host_or_none()
    if name == "EXTENSION_WEB_DIRS":
        return host.web_dirs if host is not None else _fallback[name]
    if name == "LOADED_MODULE_DIRS":
        return host.module_dirs if host is not None else _fallback[name]
    raise AttributeError(f"module 'nodes' has no attribute {name!r}")


def common_ksampler(model: Any, seed: int, steps: int, cfg: float, sampler_name: str,
                    scheduler: str, positive: Any, negative: Any, latent: dict,
                    denoise: float = 1.0, disable_noise: bool = False,
                    start_step: int | None = None, last_step: int | None = None,
                    force_full_denoise: bool = False) -> tuple[dict]:
    """KSampler's procedure as packs call it: a shallow copy of `latent` with new
    samples (no initial noise with `disable_noise`), progress and previews to the job."""
    out = run_ksampler(model, positive, negative, latent, steps=steps, cfg=cfg, seed=seed,
                       sampler_name=sampler_name, scheduler=scheduler, denoise=denoise,
                       start_step=start_step, last_step=last_step,
                       force_full_denoise=force_full_denoise, add_noise=not disable_noise)
    return (out,)


def before_node_execution() -> None:
    """Raise the interrupt exception when the running prompt was interrupted."""
    check_interrupt()


def interrupt_processing(value: bool = True) -> None:
    """Interrupt the running prompt (ComfyUI's global flag; `False` is a no-op here: a
    new prompt always starts uninterrupted)."""
    import comfy.model_management

    comfy.model_management.interrupt_current_processing(value)


async def load_custom_node(module_path: str, ignore: set | frozenset = frozenset(),
                           module_parent: str = "custom_nodes") -> bool:
    """Import one pack into the running server's registry; True when it loaded. Names in
    `ignore` are not registered."""
    from comfy_core.registry.custom_nodes import LoadContext, load_plugin

    host = plugin_host()
    if host.registry is None:
        raise RuntimeError("the server's node registry is not built yet")
    context = LoadContext(_IgnoringRegistry(host.registry, set(ignore)), host.web_dirs,
                          host.module_dirs, host.settings.base_directory)
    report = load_plugin(context, Path(module_path))
    return report.error is None


async def init_extra_nodes(init_custom_nodes: bool = True, init_api_nodes: bool = True) -> list:
    """Load the packs of the custom_nodes folders that are not loaded yet (the server
    loaded the built-in nodes and every pack present at start); the names that failed."""
    from comfy_core.registry.custom_nodes import allowed, find_plugins, plugin_name

    if not init_custom_nodes:
        return []
    host = plugin_host()
    settings = host.settings
    failed = []
    for path in find_plugins([p for p in host.folders.get_folder_paths("custom_nodes")
                              if p.is_dir()]):
        if plugin_name(path) in host.module_dirs or not allowed(
                path, settings.disable_all_custom_nodes, settings.whitelist_custom_nodes):
            continue
        if not await load_custom_node(str(path)):
            failed.append(plugin_name(path))
    return failed


class _IgnoringRegistry:
    """The registry, minus the names a caller asked to leave out."""

    def __init__(self, registry: Any, ignore: set) -> None:
        self._registry, self._ignore = registry, ignore

    def register_mappings(self, mappings: dict, display_names: Any, python_module: str) -> list:
        kept = {k: v for k, v in mappings.items() if k not in self._ignore}
        return self._registry.register_mappings(kept, display_names, python_module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)
