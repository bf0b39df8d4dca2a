"""Node classes by name: classic (V1) and V3 (`comfy_core.registry.v3`) node classes read
into NodeSchema, /object_info, and the custom-node plugin loader."""

from comfy_core.registry.custom_nodes import PluginReport, load_custom_nodes
from comfy_core.registry.registry import NodeRegistry, is_core_module, node_info
from comfy_core.registry.schema import (
    HIDDEN_KINDS,
    InputDef,
    NodeSchema,
    SchemaError,
    parse_input_types,
    schema_from_class,
)

__all__ = [
    "HIDDEN_KINDS",
    "InputDef",
    "NodeRegistry",
    "NodeSchema",
    "PluginReport",
    "SchemaError",
    "is_core_module",
    "load_custom_nodes",
    "node_info",
    "parse_input_types",
    "schema_from_class",
]
