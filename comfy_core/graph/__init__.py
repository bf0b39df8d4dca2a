"""The API prompt as a graph: links, validation, dependency order, expansion, cache keys."""

from comfy_core.graph.cache_keys import CacheKeys, is_nan_marker
from comfy_core.graph.dynamic import DuplicateNodeError, DynamicPrompt, NodeNotFoundError
from comfy_core.graph.links import is_link, link_parts, node_links
from comfy_core.graph.order import DependencyCycleError, topological_order
from comfy_core.graph.types import types_compatible
from comfy_core.graph.validate import Validation, full_type_name, validate_prompt

__all__ = [
    "CacheKeys",
    "DependencyCycleError",
    "DuplicateNodeError",
    "DynamicPrompt",
    "NodeNotFoundError",
    "Validation",
    "full_type_name",
    "is_link",
    "is_nan_marker",
    "link_parts",
    "node_links",
    "topological_order",
    "types_compatible",
    "validate_prompt",
]
