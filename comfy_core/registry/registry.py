"""NodeRegistry: class_type name -> NodeSchema, plus the /object_info view of it.

One registry is built by the server and handed down; there is no module-level table.
Core names (anything not registered from a custom node) cannot be replaced later, which
is what keeps a plugin from silently swapping out KSampler.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from comfy_core.registry.schema import INPUT_CATEGORIES, NodeSchema, SchemaError, schema_from_class
from comfy_core.registry.v3.binding import node_info_v3, schema_from_v3
from comfy_core.registry.v3.node import is_v3_class

log = logging.getLogger(__name__)

CUSTOM_PREFIX = "custom_nodes"


def is_core_module(python_module: str) -> bool:
    """Core and extras nodes are protected; custom nodes may replace other custom nodes."""
    return not (python_module == CUSTOM_PREFIX or python_module.startswith(CUSTOM_PREFIX + "."))


class NodeRegistry:
    """Registered node classes by class_type, in registration order."""

    def __init__(self) -> None:
        self._schemas: dict[str, NodeSchema] = {}
        self._notes: dict[str, str] = {}

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._schemas

    def __len__(self) -> int:
        return len(self._schemas)

    def register(
        self, name: str, cls: type, *, display_name: str | None = None, python_module: str = "nodes"
    ) -> None:
        """Register one class. A name already held by a core node is ignored (logged);
        a class that does not follow the convention raises SchemaError."""
        existing = self._schemas.get(name)
        if existing is not None and is_core_module(existing.python_module):
            log.warning("node %r from %s ignored: the name belongs to %s", name, python_module,
                        existing.python_module)
            return
        read = schema_from_v3 if is_v3_class(cls) else schema_from_class
        self._schemas[name] = read(name, cls, display_name=display_name,
                                   python_module=python_module)

    def register_mappings(
        self, class_mappings: dict, display_names: dict | None, python_module: str
    ) -> list[str]:
        """Register NODE_CLASS_MAPPINGS-style dicts (classic and V3 classes, mixed);
        return the names actually registered. A class that fails to register is logged
        and skipped; the others still register."""
        display_names = display_names if isinstance(display_names, dict) else {}
        added: list[str] = []
        for name, cls in class_mappings.items():
            if not isinstance(name, str):
                log.warning("%s: node name %r is not a string; skipped", python_module, name)
                continue
            before = self._schemas.get(name)
            try:
                self.register(name, cls, display_name=display_names.get(name),
                              python_module=python_module)
            except SchemaError as exc:
                log.warning("%s: %s", python_module, exc)
                continue
            if self._schemas.get(name) is not before:
                added.append(name)
                _set_relative_module(cls, python_module)
        return added

    def merge_display_names(self, display_names: Any) -> list[str]:
        """A pack's NODE_DISPLAY_NAME_MAPPINGS, merged as ComfyUI does: any registered
        classic node may be renamed, built-in ones included (V3 nodes keep their schema's
        name); returns the names renamed."""
        if not isinstance(display_names, dict):
            return []
        renamed = []
        for name, title in display_names.items():
            schema = self._schemas.get(name) if isinstance(name, str) else None
            if schema is None or schema.is_v3 or not isinstance(title, str):
                continue
            self._schemas[name] = replace(schema, display_name=title)
            renamed.append(name)
        return renamed

    def register_v3_nodes(self, classes: Any, python_module: str) -> list[str]:
        """Register V3 classes under their schema's node_id (the list a ComfyExtension's
        get_node_list() returns); return the names actually registered."""
        if not isinstance(classes, (list, tuple)):
            raise SchemaError(f"{python_module}: get_node_list() must return a list of node "
                              f"classes, got {type(classes).__name__}")
        mappings: dict = {}
        for cls in classes:
            if not is_v3_class(cls):
                log.warning("%s: %r in the node list is not an io.ComfyNode class; skipped",
                            python_module, cls)
                continue
            try:
                mappings[cls.GET_SCHEMA().node_id] = cls
            except Exception as exc:
                log.warning("%s: node class %s has an unusable schema: %s", python_module,
                            getattr(cls, "__name__", cls), exc)
        return self.register_mappings(mappings, None, python_module)

    def set_module_note(self, python_module: str, note: str) -> None:
        """What the loader learned about a pack that still loaded (e.g. an ImportError it
        caught), told with the errors its nodes raise later."""
        self._notes[python_module] = note

    def note_for(self, name: str | None) -> str | None:
        schema = self.get(name) if name is not None else None
        return self._notes.get(schema.python_module) if schema is not None else None

    def get(self, name: str) -> NodeSchema | None:
        if not isinstance(name, str):
            return None
        return self._schemas.get(name)

    def names(self) -> list[str]:
        return list(self._schemas)

    def object_info(self) -> dict:
        """{class_type: info} for every node; a node whose INPUT_TYPES raises is skipped."""
        info: dict[str, dict] = {}
        for name, schema in self._schemas.items():
            entry = _safe_info(schema)
            if entry is not None:
                info[name] = entry
        return info

    def object_info_for(self, name: str) -> dict:
        schema = self.get(name)
        if schema is None:
            return {}
        entry = _safe_info(schema)
        return {name: entry} if entry is not None else {}


def _set_relative_module(cls: Any, python_module: str) -> None:
    """Plugins read RELATIVE_PYTHON_MODULE to find their own web folder (ComfyUI habit)."""
    try:
        cls.RELATIVE_PYTHON_MODULE = python_module
    except (AttributeError, TypeError):
        log.debug("cannot set RELATIVE_PYTHON_MODULE on %r", cls)


def _safe_info(schema: NodeSchema) -> dict | None:
    try:
        return node_info(schema)
    except Exception:
        log.exception("object_info: INPUT_TYPES of node %r failed; node left out", schema.name)
        return None


def node_info(schema: NodeSchema) -> dict:
    """One /object_info entry in ComfyUI's shape (V3 nodes: the newer-schema keys); key
    order matters to some clients."""
    if schema.is_v3:
        return node_info_v3(schema)
    inputs = schema.input_types()
    if not isinstance(inputs, dict):
        raise SchemaError(f"INPUT_TYPES() of {schema.name!r} returned {type(inputs).__name__}")
    info: dict[str, Any] = {
        "input": inputs,
        "input_order": {k: list(v) for k, v in inputs.items() if k in INPUT_CATEGORIES and isinstance(v, dict)},
        "output": list(schema.return_types),
        "output_is_list": list(schema.output_is_list),
        "output_name": list(schema.return_names),
        "name": schema.name,
        "display_name": schema.display_name,
        "description": schema.description,
        "python_module": schema.python_module,
        "category": schema.category,
        "output_node": schema.output_node,
    }
    if schema.output_tooltips is not None:
        info["output_tooltips"] = list(schema.output_tooltips)
    if schema.deprecated:
        info["deprecated"] = True
    if schema.experimental:
        info["experimental"] = True
    if schema.api_node is not None:
        info["api_node"] = schema.api_node
    return info
