"""Cache keys: a digest of a node's class, IS_CHANGED value and inputs, where each link
contributes its source's key (a Merkle hash of the ancestor graph, COMPAT 4.5).

Node ids stay out of keys (two identical nodes share one result) unless the class is
NOT_IDEMPOTENT or takes a hidden UNIQUE_ID.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from typing import Any, Callable

from comfy_core.graph.dynamic import DynamicPrompt
from comfy_core.graph.links import link_parts
from comfy_core.graph.order import topological_order
from comfy_core.registry.registry import NodeRegistry


def is_nan_marker(value: Any) -> bool:
    """IS_CHANGED answered NaN (or a list holding NaN): the node must always re-run."""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple)):
        return any(isinstance(v, float) and math.isnan(v) for v in value)
    return False


def _canonical(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=True, default=repr)
    except (TypeError, ValueError):  # mixed-type dict keys, circular structures
        return repr(value)


class CacheKeys:
    """Keys of one run, memoised per node id; `is_changed(node_id)` supplies IS_CHANGED."""

    def __init__(self, dynprompt: DynamicPrompt, registry: NodeRegistry,
                 is_changed: Callable[[str], Any]) -> None:
        self._prompt = dynprompt
        self._registry = registry
        self._is_changed = is_changed
        self._keys: dict[str, str] = {}
        self._run_token = uuid.uuid4().hex

    def _sources(self, node_id: str) -> list[str]:
        if node_id in self._keys or not self._prompt.has_node(node_id):
            return []
        inputs = self._prompt.get_node(node_id).get("inputs", {})
        found = []
        for value in inputs.values():
            parts = link_parts(value)
            if parts and parts[0] not in self._keys and self._prompt.has_node(parts[0]):
                found.append(parts[0])
        return found

    def key(self, node_id: str) -> str:
        """The node's key, computing ancestors first without recursion."""
        if node_id not in self._keys:
            order, _ = topological_order([node_id], self._sources)
            for nid in order:
                if nid not in self._keys:
                    self._keys[nid] = self._digest(nid)
        return self._keys[node_id]

    def _digest(self, node_id: str) -> str:
        node = self._prompt.get_node(node_id)
        class_type = node.get("class_type")
        schema = self._registry.get(class_type)
        changed = self._is_changed(node_id)
        parts: list[Any] = [class_type, self._run_token if is_nan_marker(changed) else _canonical(changed)]
        if schema is not None and (schema.not_idempotent or schema.takes_unique_id()):
            parts.append(["ID", node_id])
        inputs = node.get("inputs", {})
        for name in sorted(inputs):
            link = link_parts(inputs[name])
            if link is not None and self._prompt.has_node(link[0]):
                source_key = self._keys.get(link[0], f"CYCLE:{link[0]}")
                parts.append([name, "LINK", source_key, link[1]])
            else:
                parts.append([name, _canonical(inputs[name])])
        return hashlib.blake2b(_canonical(parts).encode(), digest_size=20).hexdigest()

