"""UI workflow (schema 0.4 / 1) -> API prompt, as the editor's graphToPrompt does (COMPAT 3.3-3.4).

Widget values map positionally over each node's widgets, built from /object_info in input
order; the editor-only entries (control_after_generate after seeds, the upload button after
image_upload combos) are skipped. Links resolve through Reroute nodes and bypassed nodes;
muted nodes and virtual nodes produce nothing; a PrimitiveNode's value is inlined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDGET_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
VIRTUAL_TYPES = frozenset({"Reroute", "PrimitiveNode", "Note", "MarkdownNote"})
MODE_MUTED, MODE_BYPASS = 2, 4
SEED_NAMES = ("seed", "noise_seed")


class WorkflowError(ValueError):
    """The workflow cannot be converted; the message names the node and what is wrong."""


@dataclass(frozen=True)
class _Link:
    origin: str
    slot: int
    target: str
    target_slot: int
    type: str


def is_ui_workflow(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list)


def widget_slots(info: dict) -> list[str | None]:
    """Names of the widgets_values positions of a node; None marks an editor-only entry."""
    slots: list[str | None] = []
    inputs = info.get("input", {})
    for section in ("required", "optional"):
        for name in info.get("input_order", {}).get(section, list(inputs.get(section, {}))):
            spec = inputs.get(section, {}).get(name)
            if not isinstance(spec, (list, tuple)) or not spec:
                continue
            kind = spec[0]
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            is_combo = isinstance(kind, list) or kind == "COMBO"
            if not (is_combo or kind in WIDGET_TYPES) or opts.get("forceInput"):
                continue
            slots.append(name)
            if opts.get("control_after_generate") or (kind == "INT" and name in SEED_NAMES):
                slots.append(None)
            if opts.get("image_upload"):
                slots.append(None)
    return slots


def _links(workflow: dict) -> dict[int, _Link]:
    out: dict[int, _Link] = {}
    for raw in workflow.get("links") or []:
        if isinstance(raw, dict):
            raw = [raw.get("id"), raw.get("origin_id"), raw.get("origin_slot"),
                   raw.get("target_id"), raw.get("target_slot"), raw.get("type")]
        if not isinstance(raw, list) or len(raw) < 5:
            raise WorkflowError(f"malformed link {raw!r}")
        out[int(raw[0])] = _Link(str(raw[1]), int(raw[2]), str(raw[3]), int(raw[4]),
                                 str(raw[5]) if len(raw) > 5 else "*")
    return out


class _Converter:
    def __init__(self, workflow: dict, object_info: dict) -> None:
        self.nodes = {str(n["id"]): n for n in workflow["nodes"] if isinstance(n, dict)}
        self.links = _links(workflow)
        self.info = object_info

    def source(self, link_id: Any, depth: int = 0) -> tuple[str, int] | None:
        """Where a link really comes from, through reroutes and bypassed nodes."""
        link = self.links.get(link_id) if link_id is not None else None
        if link is None or depth > 100:
            return None
        node = self.nodes.get(link.origin)
        if node is None or node.get("mode") == MODE_MUTED or node.get("type") in (
                "PrimitiveNode", "Note", "MarkdownNote"):
            return None
        if node.get("type") == "Reroute":
            first = (node.get("inputs") or [{}])[0]
            return self.source(first.get("link"), depth + 1)
        if node.get("mode") == MODE_BYPASS:
            return self._through_bypass(node, link, depth)
        return link.origin, link.slot

    def _through_bypass(self, node: dict, link: _Link, depth: int) -> tuple[str, int] | None:
        inputs = node.get("inputs") or []
        outputs = node.get("outputs") or []
        want = outputs[link.slot].get("type") if link.slot < len(outputs) else link.type
        same_slot = inputs[link.slot] if link.slot < len(inputs) else None
        candidates = ([same_slot] if same_slot and same_slot.get("type") == want else []) + \
            [i for i in inputs if i.get("type") == want]
        for inp in candidates:
            if inp.get("link") is not None:
                return self.source(inp["link"], depth + 1)
        return None

    def primitive_value(self, link_id: Any) -> tuple[bool, Any]:
        link = self.links.get(link_id)
        node = self.nodes.get(link.origin) if link else None
        if node is not None and node.get("type") == "PrimitiveNode":
            values = node.get("widgets_values") or []
            if values:
                return True, values[0]
        return False, None

    def node_inputs(self, node: dict, info: dict) -> dict:
        values = node.get("widgets_values")
        inputs: dict[str, Any] = {}
        if isinstance(values, dict):
            inputs.update(values)
        elif isinstance(values, list):
            for name, value in zip(widget_slots(info), values):
                if name is not None:
                    inputs[name] = {"__value__": value} if isinstance(value, list) else value
        for slot in node.get("inputs") or []:
            name, link_id = slot.get("name"), slot.get("link")
            if link_id is None:
                continue
            widget = (slot.get("widget") or {}).get("name", name)
            found, value = self.primitive_value(link_id)
            if found:
                inputs[widget] = value
                continue
            src = self.source(link_id)
            if src is not None:
                inputs[widget] = [src[0], src[1]]
            else:
                inputs.pop(widget, None)
        return inputs

    def convert(self) -> dict:
        prompt: dict[str, dict] = {}
        for node_id, node in self.nodes.items():
            kind = node.get("type")
            if kind in VIRTUAL_TYPES or node.get("mode") in (MODE_MUTED, MODE_BYPASS):
                continue
            info = self.info.get(kind)
            if info is None:
                raise WorkflowError(f"node #{node_id} has unknown type {kind!r} (subgraphs "
                                    "and group nodes are not converted headless)")
            prompt[node_id] = {"class_type": kind, "inputs": self.node_inputs(node, info),
                               "_meta": {"title": node.get("title") or info.get(
                                   "display_name") or kind}}
        for entry in prompt.values():  # drop links to nodes that produce nothing
            for name, value in list(entry["inputs"].items()):
                if isinstance(value, list) and len(value) == 2 and value[0] not in prompt:
                    del entry["inputs"][name]
        return prompt


def workflow_to_prompt(workflow: dict, object_info: dict) -> dict:
    """Convert a UI workflow into an API prompt using `/object_info` for widget mapping."""
    if not is_ui_workflow(workflow):
        raise WorkflowError("not a UI workflow: expected an object with a 'nodes' list")
    return _Converter(workflow, object_info).convert()
