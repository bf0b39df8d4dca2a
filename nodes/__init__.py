"""Built-in nodes. Each domain module exports NODE_CLASS_MAPPINGS and
NODE_DISPLAY_NAME_MAPPINGS; this package merges them in a fixed order.

Importing this package imports torch (node modules are model-side); the engine reaches it
only through the registry.

Custom-node packs import this package as ComfyUI's `nodes` module, so it also carries
ComfyUI's names (nodes/comfy_names.py): every built-in node class by its node name,
`MAX_RESOLUTION`, `NODE_CLASS_MAPPINGS` as a live view of the running registry (the
built-in classes alone are BUILTIN_NODE_CLASS_MAPPINGS), `EXTENSION_WEB_DIRS`,
`LOADED_MODULE_DIRS`, `common_ksampler`, `load_custom_node`, `init_extra_nodes`,
`before_node_execution`, `interrupt_processing`.
"""

from __future__ import annotations

from comfy_core.registry.v3 import is_v3_class
from nodes import (clip_vision, gligen, hypernetwork, lora_extract, lotus, model_merging, model_merging_families,
                   photomaker)
from nodes import (conditioning, controlnet, custom_sampling, custom_sampling_samplers, custom_sampling_schedules,
                   custom_sampling_sigmas, guidance, image, image_filters, image_preprocessors, image_tools, latent,
                   latent_tools, loaders, mask, model_advanced, model_patches, primitives, sampling, text_encode,
                   upscale_model, utility, vae)

_MODULES = (sampling, loaders, text_encode, latent, conditioning, vae, image, mask, primitives,
            image_filters, image_tools, latent_tools, utility, custom_sampling, custom_sampling_schedules,
            custom_sampling_sigmas, custom_sampling_samplers, upscale_model, image_preprocessors, controlnet,
            model_advanced, model_patches, guidance)
_MODULES += (clip_vision, gligen, model_merging, model_merging_families, lora_extract, hypernetwork, photomaker,
             lotus)

BUILTIN_NODE_CLASS_MAPPINGS: dict[str, type] = {
    name: cls for module in _MODULES for name, cls in module.NODE_CLASS_MAPPINGS.items()
}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {
    name: title for module in _MODULES
    for name, title in module.NODE_DISPLAY_NAME_MAPPINGS.items()
}
# V3 nodes carry their title in the schema; ComfyUI's loader copies it here too.
NODE_DISPLAY_NAME_MAPPINGS.update({
    name: cls.GET_SCHEMA().display_name for name, cls in BUILTIN_NODE_CLASS_MAPPINGS.items()
    if is_v3_class(cls) and cls.GET_SCHEMA().display_name is not None
})

from nodes.comfy_names import (  # noqa: E402  (ComfyUI's names for packs, see the docstring)
    MAX_RESOLUTION,
    LiveNodeMappings,
    before_node_execution,
    common_ksampler,
    init_extra_nodes,
    interrupt_processing,
    load_custom_node,
    module_views,
)

NODE_CLASS_MAPPINGS = LiveNodeMappings(BUILTIN_NODE_CLASS_MAPPINGS)
# ComfyUI's nodes module holds its node classes under their node names.
globals().update({name: cls for name, cls in BUILTIN_NODE_CLASS_MAPPINGS.items()
                  if name.isidentifier() and name not in globals()})


def __getattr__(name: str):
    return module_views(name)  # EXTENSION_WEB_DIRS, LOADED_MODULE_DIRS (the server's dicts)



def mappings_by_python_module() -> dict[str, tuple[dict[str, type], dict[str, str]]]:
    """{python_module: (class mappings, display names)}: "nodes" for core nodes and
    "comfy_extras.<file>" for the ones ComfyUI ships as extras (their
    `RELATIVE_PYTHON_MODULE`), so /object_info's `python_module` matches ComfyUI."""
    groups: dict[str, tuple[dict[str, type], dict[str, str]]] = {}
    for name, cls in BUILTIN_NODE_CLASS_MAPPINGS.items():
        module = cls.__dict__.get("RELATIVE_PYTHON_MODULE") or _inherited_module(cls)
        classes, titles = groups.setdefault(module, ({}, {}))
        classes[name] = cls
        if name in NODE_DISPLAY_NAME_MAPPINGS:
            titles[name] = NODE_DISPLAY_NAME_MAPPINGS[name]
    return groups


def _inherited_module(cls: type) -> str:
    for base in cls.__mro__:
        if base.__module__.startswith("nodes") and "RELATIVE_PYTHON_MODULE" in base.__dict__:
            return base.__dict__["RELATIVE_PYTHON_MODULE"]
    return "nodes"


__all__ = ["BUILTIN_NODE_CLASS_MAPPINGS", "MAX_RESOLUTION", "NODE_CLASS_MAPPINGS",
           "NODE_DISPLAY_NAME_MAPPINGS", "before_node_execution", "common_ksampler",
           "init_extra_nodes", "interrupt_processing", "load_custom_node",
           "mappings_by_python_module"]
