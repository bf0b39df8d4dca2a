"""Legacy group nodes (the editor's pre-subgraph "group node" feature) -> subgraphs.

A workflow saved with group nodes keeps each group's recipe in `extra.groupNodes[name]`:
`nodes` (the inner nodes in execution order; their position is their index), `links`
(`[origin_index, origin_slot, target_index, target_slot, old_origin_id, type]`), `external`
(`[index, output_slot, type]`: outputs also used outside) and an optional per-node `config`
(renamed or hidden inputs and outputs). An instance is a node of type `workflow>NAME`
(`workflow/NAME` in the oldest files) whose inputs, outputs and widgets the editor derived
from the inner nodes' definitions:

- per inner node, its widget inputs become instance widgets (a seed also gets its
  control entry), then its sockets that no inner link feeds become instance inputs; widget
  inputs that were converted to sockets inside come after every node, as widgets shown as
  inputs; a PrimitiveNode inside contributes its value widget, typed like its target;
- a name already taken is prefixed with the inner node's title (or type), then numbered;
- outputs are the inner outputs that are not only used inside.

Each instance becomes a subgraph instance with its own definition (the inner nodes keep
their index as id, so execution ids are "<instance>:<index>" as before) and the instance's
widget values written into the inner nodes; the rest is the ordinary subgraph conversion.
web/graph/group_nodes.js is the same conversion for the editor; keep the two in step.
"""

from __future__ import annotations

import copy
from typing import Any

from comfy_core.graph.group_layout import GroupLayout, build_layout
from comfy_core.graph.widget_layout import (WorkflowError, default_value, input_specs,
                                            widget_slots)

GROUP_PREFIXES = ("workflow>", "workflow/")
MAX_GROUP_DEPTH = 16
_ID_PREFIX = "6c656761-6379-4000-8000-"  # "legacy" in hex: marks converted group nodes


def group_name(node_type: Any, groups: dict) -> str | None:
    """The group a node type instantiates (`workflow>NAME`), or None."""
    if not isinstance(node_type, str):
        return None
    for prefix in GROUP_PREFIXES:
        if node_type.startswith(prefix) and node_type[len(prefix):] in groups:
            return node_type[len(prefix):]
    return None


class _GroupExpander:
    """Turns every group instance of a workflow into a subgraph instance (module doc)."""

    def __init__(self, workflow: dict, object_info: dict) -> None:
        self.groups = (workflow.get("extra") or {}).get("groupNodes") or {}
        self.object_info = object_info
        self.layouts: dict[str, GroupLayout] = {}
        self.definitions: list[dict] = []
        self.building: set[str] = set()

    def info_of(self, kind: Any) -> dict | None:
        name = group_name(kind, self.groups)
        if name is not None:
            return self.layout(name, 0).info() | {"output": self.layouts[name].output_types}
        return self.object_info.get(kind) if isinstance(kind, str) else None

    def layout(self, name: str, depth: int) -> GroupLayout:
        if depth > MAX_GROUP_DEPTH:
            raise WorkflowError(f"group node {name!r} nests deeper than {MAX_GROUP_DEPTH} levels")
        if name in self.building:
            raise WorkflowError(f"group node {name!r} contains itself")
        if name not in self.layouts:
            self.building.add(name)
            try:
                self.layouts[name] = build_layout(name, self.groups[name], self.info_of)
            except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
                if isinstance(exc, WorkflowError):
                    raise
                raise WorkflowError(f"group node {name!r} has a malformed recipe "
                                    f"({type(exc).__name__}: {exc})") from exc
            finally:
                self.building.discard(name)
        return self.layouts[name]

    def instance(self, node: dict, depth: int) -> dict:
        """The subgraph instance replacing group instance `node` (its definition is queued)."""
        name = group_name(node.get("type"), self.groups)
        layout = self.layout(name, depth)
        def_id = f"{_ID_PREFIX}{len(self.definitions) + 1:012x}"
        self.definitions.append({})  # reserve the id before nested groups take theirs
        slot = len(self.definitions) - 1
        inner = _inner_graph(self.groups[name])
        _write_widget_values(inner, layout, node.get("widgets_values"), self.info_of)
        for i, child in enumerate(inner["nodes"]):
            if group_name(child.get("type"), self.groups) is not None:
                inner["nodes"][i] = self.instance(child, depth + 1)
        self.definitions[slot] = _definition(def_id, name, node, layout, inner)
        return {**node, "type": def_id, "title": node.get("title") or name, "widgets_values": []}


def _inner_graph(data: dict) -> dict:
    """The recipe's nodes (id = index, links cleared) and its links as schema-1 objects."""
    nodes = []
    for index, raw in enumerate(data.get("nodes") or []):
        node = copy.deepcopy(raw) if isinstance(raw, dict) else {"type": "Note"}
        node["id"] = index
        node["inputs"] = [{**i, "link": None} for i in node.get("inputs") or [] if isinstance(i, dict)]
        node["outputs"] = [{**o, "links": []} for o in node.get("outputs") or [] if isinstance(o, dict)]
        node.pop("index", None)
        nodes.append(node)
    graph = {"nodes": nodes, "links": []}
    for link in data.get("links") or []:
        if isinstance(link, list) and len(link) >= 4 and link[0] is not None \
                and int(link[0]) < len(nodes) and int(link[2]) < len(nodes):
            kind = link[5] if len(link) > 5 else "*"
            _connect(graph, (int(link[0]), int(link[1])), (int(link[2]), int(link[3])), kind)
    return graph


def _connect(graph: dict, origin: tuple[int, int], target: tuple[int, int], kind: Any,
             target_name: str | None = None) -> int:
    """Add a link object; the target slot is created when the inner node lacks it."""
    link_id = len(graph["links"]) + 1
    graph["links"].append({"id": link_id, "origin_id": origin[0], "origin_slot": origin[1],
                           "target_id": target[0], "target_slot": target[1], "type": kind})
    by_id = {n["id"]: n for n in graph["nodes"]}
    if target[0] in by_id:
        inputs = by_id[target[0]]["inputs"]
        while len(inputs) <= target[1]:
            inputs.append({"name": target_name or f"input_{len(inputs)}", "type": kind, "link": None})
        inputs[target[1]]["link"] = link_id
    if origin[0] in by_id:
        outputs = by_id[origin[0]]["outputs"]
        while len(outputs) <= origin[1]:
            outputs.append({"name": f"output_{len(outputs)}", "type": kind, "links": []})
        outputs[origin[1]]["links"].append(link_id)
    return link_id


def _write_widget_values(inner: dict, layout: GroupLayout, values: Any, info_of: Any) -> None:
    """Copy the instance's widget values (positional over its widgets) into the inner nodes."""
    if not isinstance(values, list):
        return
    for name, value in zip(widget_slots(layout.info()), values):
        target = layout.widgets.get(name) if name is not None else None
        if target is not None:
            _set_widget(inner["nodes"][target.inner], target.name, value, info_of)


def _set_widget(node: dict, name: str, value: Any, info_of: Any) -> None:
    """Write one widget value into an inner node's widgets_values (padded with defaults)."""
    values = node.get("widgets_values")
    if isinstance(values, dict):
        values[name] = value
        return
    info = None if node.get("type") == "PrimitiveNode" else info_of(node.get("type"))
    slots = widget_slots(info) if info is not None else [name]
    if name not in slots:
        return
    specs = input_specs(info) if info is not None else {}
    values = list(values) if isinstance(values, list) else []
    position = slots.index(name)
    while len(values) <= position:
        slot = slots[len(values)]
        values.append(default_value(specs[slot]) if slot in specs else "fixed")
    values[position] = value
    node["widgets_values"] = values


def _definition(def_id: str, name: str, instance: dict, layout: GroupLayout, inner: dict) -> dict:
    """The subgraph definition: one input/output per instance slot, linked to the inner node
    the group routed it to."""
    inputs, outputs = [], []
    for j, slot in enumerate(s for s in instance.get("inputs") or [] if isinstance(s, dict)):
        key = (slot.get("widget") or {}).get("name") or slot.get("name")
        target = layout.sockets.get(key) or layout.widgets.get(key)
        link_ids = []
        if target is not None:
            position = target.slot
            node = inner["nodes"][target.inner]
            if position is None:
                position = next((k for k, i in enumerate(node["inputs"])
                                 if (i.get("widget") or {}).get("name") == target.name
                                 or i.get("name") == target.name), len(node["inputs"]))
            kind = (layout.spec.get(key) or [slot.get("type", "*")])[0]
            kind = "COMBO" if isinstance(kind, list) else kind
            if position >= len(node["inputs"]) and target.slot is None:
                node["inputs"].append({"name": target.name, "type": kind,
                                       "widget": {"name": target.name}, "link": None})
            link_ids.append(_connect(inner, (-10, j), (target.inner, position), kind, target.name))
        inputs.append({"id": f"{def_id[:24]}{0x100000 + j:012x}", "name": slot.get("name"),
                       "type": slot.get("type", "*"), "linkIds": link_ids})
    for j, slot in enumerate(s for s in instance.get("outputs") or [] if isinstance(s, dict)):
        link_ids = []
        if j < len(layout.outputs):
            origin = layout.outputs[j]
            link_ids.append(_connect(inner, origin, (-20, j), slot.get("type", "*")))
        outputs.append({"id": f"{def_id[:24]}{0x200000 + j:012x}", "name": slot.get("name"),
                        "type": slot.get("type", "*"), "linkIds": link_ids})
    return {"id": def_id, "version": 1, "name": name, "revision": 0,
            "state": {"lastGroupId": 0, "lastNodeId": len(inner["nodes"]),
                      "lastLinkId": len(inner["links"]), "lastRerouteId": 0},
            "config": {}, "extra": {},
            "inputNode": {"id": -10, "bounding": [-300, 0, 120, 60]},
            "outputNode": {"id": -20, "bounding": [900, 0, 120, 60]},
            "inputs": inputs, "outputs": outputs, "widgets": [], "groups": [],
            "nodes": inner["nodes"], "links": inner["links"]}


def expand_group_nodes(workflow: dict, object_info: dict) -> dict:
    """A copy of `workflow` whose legacy group-node instances are subgraph instances (one
    definition each, appended to `definitions.subgraphs`); unchanged when it has none."""
    groups = (workflow.get("extra") or {}).get("groupNodes")
    nodes = workflow.get("nodes") or []
    if not isinstance(groups, dict) or not any(
            isinstance(n, dict) and group_name(n.get("type"), groups) for n in nodes):
        return workflow
    expander = _GroupExpander(workflow, object_info)
    out = dict(workflow)
    out["nodes"] = [expander.instance(n, 0) if isinstance(n, dict)
                    and group_name(n.get("type"), groups) else n for n in nodes]
    definitions = dict(workflow.get("definitions") or {})
    definitions["subgraphs"] = list(definitions.get("subgraphs") or []) + expander.definitions
    out["definitions"] = definitions
    out["extra"] = {k: v for k, v in (workflow.get("extra") or {}).items() if k != "groupNodes"}
    return out
