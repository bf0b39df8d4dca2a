"""Calling a plugin's `comfy_entrypoint` (the V3 way to export nodes).

The entrypoint may be a plain or an async function; it must return a ComfyExtension whose
async `get_node_list()` returns a list of node classes. Any other shape raises
EntrypointError with what was wrong.
"""

from __future__ import annotations

import inspect
from typing import Any

from comfy_core.registry.v3.node import ComfyExtension
from comfy_core.runtime.awaitables import resolve_awaitable


class EntrypointError(TypeError):
    """A comfy_entrypoint broke the contract (wrong return type or node list)."""


async def extension_node_list(entrypoint: Any) -> list:
    """The node classes `entrypoint()` declares (awaiting what needs awaiting)."""
    if not callable(entrypoint):
        raise EntrypointError(f"comfy_entrypoint is not callable ({type(entrypoint).__name__})")
    extension = entrypoint()
    if inspect.isawaitable(extension):
        extension = await extension
    if not isinstance(extension, ComfyExtension):
        raise EntrypointError("comfy_entrypoint() must return a ComfyExtension instance, got "
                              f"{type(extension).__name__}")
    nodes = extension.get_node_list()
    if inspect.isawaitable(nodes):
        nodes = await nodes
    if not isinstance(nodes, list):
        raise EntrypointError("ComfyExtension.get_node_list() must return a list, got "
                              f"{type(nodes).__name__}")
    return nodes


def register_entrypoint(registry: Any, entrypoint: Any, python_module: str) -> list[str]:
    """Register the nodes of a plugin's comfy_entrypoint in `registry` (a NodeRegistry);
    return the names registered. Raises EntrypointError for a broken contract and lets the
    plugin's own exceptions through, for the loader to report."""
    return registry.register_v3_nodes(resolve_awaitable(extension_node_list(entrypoint)),
                                      python_module)
