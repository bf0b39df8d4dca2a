"""`comfy_execution.graph`: ComfyUI's graph names packs import (COMPAT-PLUGINS 6.3):
`ExecutionBlocker`, `DynamicPrompt` (the hidden DYNPROMPT value: our run's prompt plus the
nodes expansions add) and `get_input_info`."""

from __future__ import annotations

from typing import Any

from comfy_core.execution.blocker import ExecutionBlocker
from comfy_core.graph.dynamic import DynamicPrompt, NodeNotFoundError
from comfy_execution.graph_utils import GraphBuilder, is_link

__all__ = ["DynamicPrompt", "ExecutionBlocker", "GraphBuilder", "NodeNotFoundError",
           "get_input_info", "is_link"]


def get_input_info(class_def: type, input_name: str, valid_inputs: dict | None = None
                   ) -> tuple[Any, str | None, dict | None]:
    """(type, "required"|"optional"|"hidden", options) of one input of a node class, or
    (None, None, None) when the class has no such input."""
    inputs = valid_inputs if valid_inputs is not None else class_def.INPUT_TYPES()
    for category in ("required", "optional", "hidden"):
        spec = (inputs.get(category) or {}).get(input_name)
        if spec is None:
            continue
        if category == "hidden":
            return spec, category, None
        input_type = spec[0] if isinstance(spec, (list, tuple)) and spec else spec
        options = spec[1] if isinstance(spec, (list, tuple)) and len(spec) > 1 else None
        return input_type, category, options
    return None, None, None
