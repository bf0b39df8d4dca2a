"""The instance interface of a legacy group node, derived from its recipe exactly as the
editor's group-node code derives it (the rules are listed in comfy_core/graph/group_nodes.py):
which instance widgets, inputs and outputs exist, in which order, under which names, and
which inner node and input each one stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from comfy_core.graph.widget_layout import WorkflowError, input_specs, is_widget_spec

SEED_NAMES = ("seed", "noise_seed")
SKIPPED_TYPES = frozenset({"Note", "MarkdownNote"})


def _is_index(value: Any) -> bool:
    """An int, or a string of one (as the editor's Number() reads it)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit())


@dataclass(frozen=True)
class _Target:
    """Where one instance input or widget lands: inner node `inner`, its input `name`, and
    the inner input slot when the instance input stands for a socket."""

    inner: int
    name: str
    slot: int | None = None


@dataclass
class GroupLayout:
    """The instance interface the editor derived from one group's recipe."""

    spec: dict[str, list] = field(default_factory=dict)  # instance inputs, in order
    widgets: dict[str, _Target] = field(default_factory=dict)
    sockets: dict[str, _Target] = field(default_factory=dict)
    outputs: list[tuple[int, int]] = field(default_factory=list)
    output_types: list[Any] = field(default_factory=list)

    def info(self) -> dict:
        """An /object_info-like entry for the instance (for widget_slots)."""
        return {"input": {"required": self.spec}, "input_order": {"required": list(self.spec)}}


class _LayoutBuilder:
    """Derives a GroupLayout exactly as the editor's group-node code does (see module doc)."""

    def __init__(self, name: str, data: dict, info_of: Any) -> None:
        self.name, self.data, self.info_of = name, data, info_of
        self.nodes: list[dict] = [n if isinstance(n, dict) else {} for n in data.get("nodes") or []]
        self.links_to: dict[int, dict[int, list]] = {}
        self.links_from: dict[int, dict[int, list[list]]] = {}
        for link in data.get("links") or []:
            if not isinstance(link, list) or len(link) < 4 or link[0] is None:
                continue
            self.links_from.setdefault(int(link[0]), {}).setdefault(int(link[1]), []).append(link)
            self.links_to.setdefault(int(link[2]), {})[int(link[3])] = link
        self.external: dict[int, dict[int, Any]] = {}
        for ext in data.get("external") or []:
            # Early group nodes stored the inner node itself, not its index, in an entry;
            # the editor's lookup never matches such an entry, so it marks nothing here.
            if isinstance(ext, list) and len(ext) >= 3 and all(_is_index(v) for v in ext[:2]):
                self.external.setdefault(int(ext[0]), {})[int(ext[1])] = ext[2]
        self.layout = GroupLayout()
        self.seen: dict[str, int] = {}
        self.primitive_specs: dict[int, list] = {}
        self.widget_names: dict[int, dict[str, str]] = {}
        self.converted: list[tuple[int, dict, list[str], dict[int, str], dict]] = []

    def build(self) -> GroupLayout:
        for index, node in enumerate(self.nodes):
            inputs_outputs = self._definition(index, node)
            if inputs_outputs is None:
                continue
            inputs, outputs = inputs_outputs
            if inputs:
                self._node_inputs(index, node, inputs)
            self._node_outputs(index, outputs)
        for index, node, slots, converted, inputs in self.converted:
            self._converted_widgets(index, node, slots, converted, inputs)
        return self.layout

    def _custom(self, index: int, kind: str, key: Any) -> dict:
        config = (self.data.get("config") or {}).get(str(index)) or {}
        found = (config.get(kind) or {}).get(str(key))
        return found if isinstance(found, dict) else {}

    def _definition(self, index: int, node: dict) -> tuple[dict, list] | None:
        """(inputs {name: spec}, output types) of an inner node, or None when it adds nothing."""
        kind = node.get("type")
        info = self.info_of(kind)
        if info is not None:
            return dict(input_specs(info)), list(info.get("output") or [])
        if kind == "PrimitiveNode":
            return self._primitive(index, node)
        if kind == "Reroute":
            return self._reroute(index)
        if kind in SKIPPED_TYPES:
            return None
        raise WorkflowError(f"group node {self.name!r}: inner node {index} has unknown type {kind!r}")

    def _primitive(self, index: int, node: dict) -> tuple[dict, list] | None:
        links = (self.links_from.get(index) or {}).get(0)
        if not links:
            return None
        link_type: Any = links[0][5] if len(links[0]) > 5 else "*"
        if link_type == "COMBO":
            widget = ((node.get("outputs") or [{}])[0].get("widget") or {}).get("name")
            target = self.nodes[int(links[0][2])] if int(links[0][2]) < len(self.nodes) else {}
            target_info = self.info_of(target.get("type")) or {}
            link_type = (input_specs(target_info).get(widget) or [link_type])[0]
        spec = [link_type, {}]
        self.primitive_specs[index] = spec
        return {"value": spec}, [link_type]

    def _reroute(self, index: int) -> tuple[dict, list] | None:
        links_from, links_to = self.links_from.get(index), self.links_to.get(index)
        if links_to and links_from and not (self.external.get(index) or {}).get(0):
            return None  # a reroute used only inside the group
        kind: Any = "*"
        for link in (links_from or {}).get(0, []):
            target = self.nodes[int(link[2])] if int(link[2]) < len(self.nodes) else {}
            slot = (target.get("inputs") or [])[int(link[3]):int(link[3]) + 1]
            if slot and kind == "*":
                kind = slot[0].get("type", "*")
        if links_from is None and links_to and links_to.get(0):
            kind = self._output_type(int(links_to[0][0]), int(links_to[0][1]))
        if kind == "*":
            kind = (self.external.get(index) or {}).get(0) or "*"
        return {kind: [kind, {"forceInput": True}]}, [kind]

    def _output_type(self, index: int, slot: int) -> Any:
        outputs = (self.nodes[index] if index < len(self.nodes) else {}).get("outputs") or []
        output = outputs[slot] if slot < len(outputs) and isinstance(outputs[slot], dict) else {}
        return output.get("type", "*")

    def _input_name(self, index: int, node: dict, input_name: str, spec: list,
                    extra: dict | None = None) -> tuple[str, list, dict]:
        custom = self._custom(index, "input", input_name)
        label = next((i.get("label") for i in node.get("inputs") or []
                      if isinstance(i, dict) and i.get("name") == input_name), None)
        name = custom.get("name") or label or input_name
        key, prefix = name, ""
        if (node.get("type") == "PrimitiveNode" and node.get("title")) or name in self.seen:
            title = node.get("title")
            prefix = f"{title if title is not None else node.get('type')} "
            key = name = prefix + input_name
            if name in self.seen:
                name = f"{prefix}{self.seen[name]} {input_name}"
        self.seen[key] = self.seen.get(key, 1) + 1
        if input_name in SEED_NAMES:
            extra = {**(extra or {}), "control_after_generate": f"{prefix}control_after_generate"}
        if extra:
            spec = [spec[0], {**(spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}),
                              **extra}]
        return name, spec, custom

    def _node_inputs(self, index: int, node: dict, inputs: dict) -> None:
        slots: list[str] = []
        converted: dict[int, str] = {}
        names = self.widget_names.setdefault(index, {})
        node_inputs = [i for i in node.get("inputs") or [] if isinstance(i, dict)]
        for input_name, spec in inputs.items():
            if not is_widget_spec(spec):
                slots.append(input_name)
                continue
            found = [k for k, i in enumerate(node_inputs)
                     if i.get("name") == input_name and (i.get("widget") or {}).get("name") == input_name]
            if found:
                converted[found[0]] = input_name
                continue
            name, config, _ = self._input_name(index, node, input_name, spec)
            self.layout.spec[name] = config
            self.layout.widgets[name] = _Target(index, input_name)
            names[input_name] = name
        links_to = self.links_to.get(index) or {}
        for slot, input_name in enumerate(slots):
            if slot in links_to:
                self._primitive_feeds(links_to[slot], input_name, inputs, names)
                continue
            name, config, custom = self._input_name(index, node, input_name, inputs[input_name])
            if custom.get("visible") is False:
                continue
            self.layout.spec[name] = config
            self.layout.sockets[name] = _Target(index, input_name, slot)
        self.converted.append((index, node, slots, converted, inputs))

    def _converted_widgets(self, index: int, node: dict, slots: list[str],
                           converted: dict[int, str], inputs: dict) -> None:
        links_to = self.links_to.get(index) or {}
        names = self.widget_names.setdefault(index, {})
        for k, key in enumerate(sorted(converted, key=str)):  # the editor sorts them as text
            input_name, slot = converted[key], len(slots) + k
            if slot in links_to:
                self._primitive_feeds(links_to[slot], input_name, inputs, names)
                continue
            name, config, _ = self._input_name(index, node, input_name, inputs[input_name],
                                               {"defaultInput": True})
            self.layout.spec[name] = config
            self.layout.widgets[name] = self.layout.sockets[name] = _Target(index, input_name, slot)
            names[input_name] = name

    def _primitive_feeds(self, link: list, input_name: str, inputs: dict,
                         names: dict[str, str]) -> None:
        """A PrimitiveNode feeding a widget takes that widget's options and a control entry."""
        spec = self.primitive_specs.get(int(link[0]))
        if spec is None:
            return
        target = inputs.get(input_name) or []
        options = target[1] if len(target) > 1 and isinstance(target[1], dict) else {}
        spec[1] = {**options, "control_after_generate": True}

    def _node_outputs(self, index: int, outputs: list) -> None:
        links_from = self.links_from.get(index) or {}
        for slot, kind in enumerate(outputs):
            internal = bool(links_from.get(slot)) and not (self.external.get(index) or {}).get(slot)
            visible = self._custom(index, "output", slot).get("visible", not internal)
            if visible:
                self.layout.outputs.append((index, slot))
                self.layout.output_types.append(kind)


def build_layout(name: str, data: dict, info_of: Any) -> GroupLayout:
    """The instance interface of group `name` (`info_of(type)` gives /object_info entries)."""
    if not isinstance(data, dict):
        raise WorkflowError(f"group node {name!r}: its recipe in extra.groupNodes is not an object")
    return _LayoutBuilder(name, data, info_of).build()
