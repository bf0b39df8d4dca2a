"""`comfy_execution.graph_utils`: building node expansions (COMPAT-PLUGINS 6.3, COMPAT 4.4).

A node expands by returning `{"result": (...), "expand": GraphBuilder.finalize()}`; our
executor adds the new nodes as ephemeral nodes of the expanding one. New node ids are
`<prefix><local id>`, the default prefix `"<node id>.<call index>.<graph index>."` taken
from the running job (ComfyUI sets the same triple as class state before each call).
"""

from __future__ import annotations

import threading
from typing import Any

from comfy_core import runtime
from comfy_core.execution.blocker import ExecutionBlocker

__all__ = ["ExecutionBlocker", "GraphBuilder", "Node", "add_graph_prefix", "is_link"]


def is_link(obj: Any) -> bool:
    """A link `[node id, output index]` as API prompts write it."""
    return (isinstance(obj, list) and len(obj) == 2 and isinstance(obj[0], str)
            and isinstance(obj[1], (int, float)) and not isinstance(obj[1], bool))


class Node:
    """One node of a graph being built."""

    def __init__(self, id: str, class_type: str, inputs: dict) -> None:
        self.id = id
        self.class_type = class_type
        self.inputs = inputs
        self.override_display_id: str | None = None

    def out(self, index: int) -> list:
        return [self.id, index]

    def set_input(self, key: str, value: Any) -> None:
        if value is None:
            self.inputs.pop(key, None)
        else:
            self.inputs[key] = value

    def get_input(self, key: str) -> Any:
        return self.inputs.get(key)

    def set_override_display_id(self, override_display_id: str) -> None:
        self.override_display_id = override_display_id

    def serialize(self) -> dict:
        out = {"class_type": self.class_type, "inputs": self.inputs}
        if self.override_display_id is not None:
            out["override_display_id"] = self.override_display_id
        return out


class _PrefixCounter(threading.local):
    """Graph index per (job, node, call) on this thread: the n-th GraphBuilder made by
    one node call gets index n."""

    key: tuple | None = None
    next_index: int = 0


_counter = _PrefixCounter()


class GraphBuilder:
    """Nodes of an expansion; `finalize()` gives the `expand` dict."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix if prefix is not None else self.alloc_prefix()
        self.nodes: dict[str, Node] = {}
        self.id_gen = 1

    @classmethod
    def alloc_prefix(cls, root: str | None = None, call_index: int | None = None,
                     graph_index: int | None = None) -> str:
        job = runtime.job()
        if root is None:
            root = (job.node_id if job is not None else None) or ""
        if call_index is None:
            call_index = job.call_index if job is not None else 0
        if graph_index is None:
            key = (id(job), root, call_index)
            if _counter.key != key:
                _counter.key, _counter.next_index = key, 0
            graph_index = _counter.next_index
            _counter.next_index += 1
        return f"{root}.{call_index}.{graph_index}."

    def node(self, class_type: str, id: str | None = None, **kwargs: Any) -> Node:
        """A node `class_type` with inputs `kwargs` (the same node again for a known id)."""
        if id is None:
            id = str(self.id_gen)
            self.id_gen += 1
        full_id = self.prefix + str(id)
        if full_id in self.nodes:
            return self.nodes[full_id]
        node = Node(full_id, class_type, kwargs)
        self.nodes[full_id] = node
        return node

    def lookup_node(self, id: str) -> Node | None:
        return self.nodes.get(self.prefix + str(id)) or self.nodes.get(str(id))

    def finalize(self) -> dict:
        return {node_id: node.serialize() for node_id, node in self.nodes.items()}

    def replace_node_output(self, node_id: str, index: int, new_value: Any) -> None:
        """Every input linked to output `index` of `node_id` takes `new_value` (None
        removes the input)."""
        full_id = node_id if node_id in self.nodes else self.prefix + str(node_id)
        for node in self.nodes.values():
            for key, value in list(node.inputs.items()):
                if is_link(value) and value[0] == full_id and value[1] == index:
                    node.set_input(key, new_value)

    def remove_node(self, id: str) -> None:
        self.nodes.pop(id if id in self.nodes else self.prefix + str(id), None)


def add_graph_prefix(graph: dict, outputs: list, prefix: str) -> tuple[dict, list]:
    """The same graph with every node id (and link) prefixed by `prefix`."""
    new_graph = {}
    for node_id, node in graph.items():
        inputs = {k: ([prefix + v[0], v[1]] if is_link(v) else v)
                  for k, v in node.get("inputs", {}).items()}
        new_graph[prefix + node_id] = {**node, "inputs": inputs}
    new_outputs = [[prefix + o[0], o[1]] if is_link(o) else o for o in outputs]
    return new_graph, new_outputs
