"""UI workflow (schema 0.4 / 1) -> API prompt, as the editor's graphToPrompt does (COMPAT 3.3-3.4).

The command line's copy of web/graph/to_prompt.js; the two are kept in step and tested on
the same files: workflows made in ComfyUI's frontend with the prompts it sent for them
(tests/fixtures/frontend, scripts/make_frontend_fixtures.py) and our own edge cases. Widget values map
positionally over each node's widgets, built from /object_info in input order; the
editor-only entries (control_after_generate after seeds, the upload button after
image_upload combos) are skipped. Links resolve through Reroute nodes, PrimitiveNodes,
bypassed nodes and subgraph boundaries; subgraph instances are flattened into
"<instance>:<inner>" execution ids; muted and virtual nodes produce nothing; STRING widgets
flagged dynamicPrompts get comments stripped and `{a|b}` choices made. Widgets the file has
no value for take their defaults; legacy group nodes become subgraphs first
(comfy_core/graph/group_nodes.py).
"""

from __future__ import annotations

import json
import random as _random
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from comfy_core.graph.group_nodes import expand_group_nodes
from comfy_core.graph.widget_layout import (WorkflowError, default_value, spec_kind,
                                            spec_options, widget_layout)

VIRTUAL_TYPES = frozenset({"Reroute", "PrimitiveNode", "Note", "MarkdownNote"})
MODE_MUTED, MODE_BYPASS = 2, 4
SUBGRAPH_INPUT_ID, SUBGRAPH_OUTPUT_ID = -10, -20
MAX_SUBGRAPH_DEPTH = 32
_COMMENTS = re.compile(r"/\*[\s\S]*?\*/|//.*")
_CHOICE_CHARS = "{}|"
_REFERENCE = re.compile(r"%([^%]+)%")
_DATE_TOKENS = re.compile(r"yyyy|yy|MM|M|dd|d|hh|h|mm|m|ss|s")
_UNSAFE = re.compile(r'[/?<>\\:*|"]')
EXPANDED_INPUTS = ("filename_prefix",)


@dataclass(frozen=True)
class _Link:
    id: str
    origin: str
    slot: int
    target: str
    target_slot: int
    type: str


def is_ui_workflow(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list)


def strip_comments(text: str) -> str:
    """Remove C-style block comments and `//` line comments."""
    return _COMMENTS.sub("", text)


def _expand(text: str, start: int, rand: Callable[[], float], nested: bool) -> tuple[str, int]:
    options = [""]
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            # \{ \} \| are literal braces and bars; other escapes stay for the server.
            options[-1] += text[i + 1] if text[i + 1] in _CHOICE_CHARS else text[i:i + 2]
            i += 2
        elif ch == "{":
            inner, i = _expand(text, i + 1, rand, True)
            options[-1] += inner
        elif nested and ch == "|":
            options.append("")
            i += 1
        elif nested and ch == "}":
            return options[int(rand() * len(options))], i + 1
        else:
            options[-1] += ch
            i += 1
    # The end of the text closes every brace still open (as the frontend does).
    return (options[0], i) if not nested else (options[int(rand() * len(options))], i)


def process_dynamic_prompt(text: str, rand: Callable[[], float]) -> str:
    """Strip comments, then replace every `{a|b|c}` (nesting allowed; the end of the text
    closes a brace left open) by one random option, choices made left to right. `\\{`, `\\}`
    and `\\|` become the plain characters; other backslash escapes (`\\(`) are kept for the
    server. As ComfyUI's frontend 1.58.1 does (COMPAT 3.4 step 4; tests/fixtures/frontend)."""
    return _expand(strip_comments(str(text)), 0, rand, False)[0]


def _read_link(raw: Any) -> _Link:
    if isinstance(raw, dict):
        raw = [raw.get("id"), raw.get("origin_id"), raw.get("origin_slot"),
               raw.get("target_id"), raw.get("target_slot"), raw.get("type")]
    if not isinstance(raw, list) or len(raw) < 5:
        raise WorkflowError(f"malformed link {raw!r}")
    try:
        return _Link(str(raw[0]), str(raw[1]), int(raw[2]), str(raw[3]), int(raw[4]),
                     str(raw[5]) if len(raw) > 5 and raw[5] is not None else "*")
    except (TypeError, ValueError) as exc:
        raise WorkflowError(f"malformed link {raw!r}: {exc}") from exc


def types_compatible(out_type: Any, in_type: Any) -> bool:
    """Link type check as the editor does it: '*' and '' match anything; comma lists overlap."""
    a, b = str(out_type or "*"), str(in_type or "*")
    if a in ("*", "") or b in ("*", "") or a == b:
        return True
    return bool({t.strip() for t in a.split(",")} & {t.strip() for t in b.split(",")})


def _bypass_input(node: dict, slot: int, type_: str) -> dict | None:
    """Same slot if compatible, else the first input of exactly that type, else the first
    compatible one (COMPAT 3.4)."""
    inputs = node.get("inputs") or []
    same = inputs[slot] if slot < len(inputs) else None
    if same and types_compatible(type_, same.get("type")):
        return same
    exact = [i for i in inputs if i.get("type") == type_]
    return (exact or [i for i in inputs if types_compatible(type_, i.get("type"))] or [None])[0]


def promoted_inputs(definition: dict) -> list[int]:
    """Indexes of a subgraph's inputs shown as widgets on its instances (those linked to a
    widget input inside); instances keep their values in that order in widgets_values."""
    nodes = {str(n.get("id")): n for n in definition.get("nodes") or []}
    links = [_read_link(r) for r in definition.get("links") or []]

    def to_widget(link: _Link) -> bool:
        inputs = nodes.get(link.target, {}).get("inputs") or []
        return link.target_slot < len(inputs) and bool(inputs[link.target_slot].get("widget"))

    return [i for i in range(len(definition.get("inputs") or []))
            if any(link.origin == str(SUBGRAPH_INPUT_ID) and link.slot == i and to_widget(link)
                   for link in links)]


def subgraph_definitions(graph: dict, into: dict | None = None) -> dict[str, dict]:
    """Every subgraph definition by id, nested `definitions` included."""
    into = {} if into is None else into
    for definition in (graph.get("definitions") or {}).get("subgraphs") or []:
        if definition.get("id") not in into:
            into[definition.get("id")] = definition
            subgraph_definitions(definition, into)
    return into


class _Scope:
    """One graph level: the root, or a subgraph definition seen through one instance."""

    def __init__(self, graph: dict, prefix: str = "", parent: tuple[_Scope, dict] | None = None):
        if prefix.count(":") > MAX_SUBGRAPH_DEPTH:
            raise WorkflowError(f"subgraph {graph.get('name') or graph.get('id')!r} nests deeper "
                                f"than {MAX_SUBGRAPH_DEPTH} levels (does it contain itself?)")
        self.graph = graph
        self.nodes = {str(n["id"]): n for n in graph.get("nodes") or [] if isinstance(n, dict)}
        self.links = {link.id: link for link in map(_read_link, graph.get("links") or [])}
        self.prefix = prefix
        self.parent = parent

    def child(self, instance: dict, definition: dict) -> _Scope:
        return _Scope(definition, f"{self.prefix}{instance['id']}:", (self, instance))


# A resolved link: ("link", [id, slot]) | ("value", constant); None drops the link.
_Resolved = tuple[str, Any] | None


class _Converter:
    def __init__(self, workflow: dict, object_info: dict, rand: Callable[[], float]) -> None:
        self.info = object_info
        self.rand = rand
        self.definitions = subgraph_definitions(workflow)
        self.root = _Scope(workflow)

    def resolve(self, scope: _Scope, link_id: Any, seen: set[str]) -> _Resolved:
        """Follow a link back to a real producer (or a constant)."""
        link = scope.links.get(str(link_id)) if link_id is not None else None
        if link is None:
            return None
        if link.origin == str(SUBGRAPH_INPUT_ID):
            return self._subgraph_input(scope, link.slot, seen)
        node, node_id = scope.nodes.get(link.origin), scope.prefix + link.origin
        if node is None:
            return "link", [node_id, link.slot]
        if f"{node_id}/{link.slot}" in seen:
            return None
        seen.add(f"{node_id}/{link.slot}")
        kind = node.get("type")
        if kind == "Reroute":
            first = (node.get("inputs") or [{}])[0]
            return self.resolve(scope, first.get("link"), seen)
        if kind == "PrimitiveNode":
            values = node.get("widgets_values")
            return ("value", values[0]) if isinstance(values, list) and values else None
        if node.get("mode") == MODE_BYPASS:
            inp = _bypass_input(node, link.slot, link.type)
            return self.resolve(scope, inp.get("link"), seen) if inp else None
        if kind in self.definitions:
            return self._subgraph_output(scope, node, link.slot, seen)
        return "link", [node_id, link.slot]

    def _subgraph_input(self, scope: _Scope, slot: int, seen: set[str]) -> _Resolved:
        if scope.parent is None:
            return None
        outer, instance = scope.parent
        name = ((scope.graph.get("inputs") or [{}] * (slot + 1))[slot] or {}).get("name")
        found = [i for i in instance.get("inputs") or [] if i.get("name") == name]
        if found and found[0].get("link") is not None:
            return self.resolve(outer, found[0]["link"], seen)
        promoted = promoted_inputs(scope.graph)
        values = instance.get("widgets_values")
        if slot in promoted and isinstance(values, list) and promoted.index(slot) < len(values):
            return "value", values[promoted.index(slot)]
        return None

    def _subgraph_output(self, scope: _Scope, instance: dict, slot: int, seen: set[str]) -> _Resolved:
        inner = scope.child(instance, self.definitions[instance["type"]])
        for link in inner.links.values():
            if link.target == str(SUBGRAPH_OUTPUT_ID) and link.target_slot == slot:
                return self.resolve(inner, link.id, seen)
        return None

    def _widget_values(self, node: dict, info: dict) -> tuple[dict[str, Any], list]:
        """Input values from widgets_values, and the widget layout they were read with.
        Widgets the file has no value for (inputs added after it was saved) hold their
        defaults, as in the editor."""
        values = node.get("widgets_values")
        layout = widget_layout(info, values if isinstance(values, (list, dict)) else None)
        defaults = {name: default_value(spec) for name, spec in layout if name is not None}
        if isinstance(values, dict):
            return {**defaults, **values}, layout
        if not isinstance(values, list):
            return defaults, layout
        if len(values) != len(layout):
            legacy = widget_layout(info, values, True)  # a legacy file with forceInput entries
            if len(legacy) == len(values):
                layout = legacy
        given = {n: v for (n, _), v in zip(layout, values) if n is not None and n in defaults}
        return {**defaults, **given}, layout

    def node_inputs(self, scope: _Scope, node: dict, info: dict) -> dict:
        values, layout = self._widget_values(node, info)
        links: dict[str, Any] = {}
        for slot in node.get("inputs") or []:
            if slot.get("link") is None:
                continue
            name = (slot.get("widget") or {}).get("name", slot.get("name"))
            found = self.resolve(scope, slot["link"], set())
            if found and found[0] == "link":
                links[name] = found[1]
                values.pop(name, None)
            elif found:
                values[name] = found[1]
        # The frontend applies dynamic prompts to root-graph nodes only: text inside a
        # subgraph (a converted group node included) is sent as written.
        dynamic = set() if scope.prefix else {n for n, spec in layout if n is not None and spec_kind(
            spec) == "STRING" and spec_options(spec).get("dynamicPrompts")}
        inputs = {}
        for name, value in values.items():
            if name in dynamic and isinstance(value, str):
                value = process_dynamic_prompt(value, self.rand)
            inputs[name] = {"__value__": value} if isinstance(value, list) else value
        inputs.update(links)
        return inputs

    def convert_scope(self, scope: _Scope, prompt: dict) -> None:
        for node_id, node in scope.nodes.items():
            kind = node.get("type")
            if kind in VIRTUAL_TYPES or node.get("mode") in (MODE_MUTED, MODE_BYPASS):
                continue
            if kind in self.definitions:
                self.convert_scope(scope.child(node, self.definitions[kind]), prompt)
                continue
            info = self.info.get(kind)
            if info is None:
                raise WorkflowError(f"node #{scope.prefix}{node_id} has unknown type {kind!r}")
            prompt[scope.prefix + node_id] = {
                "inputs": self.node_inputs(scope, node, info), "class_type": kind,
                "_meta": {"title": node.get("title") or info.get("display_name") or kind}}

    def convert(self) -> dict:
        prompt: dict[str, dict] = {}
        self.convert_scope(self.root, prompt)
        for entry in prompt.values():  # drop links to nodes that produce nothing
            for name, value in list(entry["inputs"].items()):
                if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) \
                        and value[0] not in prompt:
                    del entry["inputs"][name]
        return prompt


def format_date(fmt: str, now: datetime) -> str:
    """yyyy, yy, MM, M, dd, d, hh, h, mm, m, ss, s as the editor formats them (doubled = padded)."""
    parts = {"y": now.year, "M": now.month, "d": now.day, "h": now.hour, "m": now.minute,
             "s": now.second}

    def one(match: re.Match) -> str:
        token = match.group(0)
        if token.startswith("y"):
            return str(now.year)[-len(token):] if token == "yy" else str(now.year)
        value = parts[token[0]]
        return f"{value:02d}" if len(token) == 2 else str(value)

    return _DATE_TOKENS.sub(one, fmt)


def apply_text_replacements(text: str, prompt: dict, now: datetime) -> str:
    """Expand `%date:FORMAT%` and `%Title.widget%` (COMPAT 3.4); unknown references stay."""
    def one(match: re.Match) -> str:
        body = match.group(1)
        if body.startswith("date:"):
            return format_date(body[5:], now)
        title, dot, widget = body.rpartition(".")
        entries = list(prompt.values())
        node = next((e for e in entries if e.get("_meta", {}).get("title") == title), None) or \
            next((e for e in entries if e.get("class_type") == title), None)
        value = (node or {}).get("inputs", {}).get(widget) if dot and title else None
        if value is None or isinstance(value, (list, dict)):
            return match.group(0)
        return _UNSAFE.sub("_", str(value))

    return _REFERENCE.sub(one, text)


def workflow_to_prompt(workflow: dict, object_info: dict,
                       random: Callable[[], float] | None = None,
                       now: datetime | None = None) -> dict:
    """Convert a UI workflow into an API prompt using `/object_info` for widget mapping,
    then expand filename_prefix references as the editor does at queue time.
    `random` ([0, 1)) makes the dynamic-prompt choices; pass a seeded one to repeat them."""
    if not is_ui_workflow(workflow):
        raise WorkflowError("not a UI workflow: expected an object with a 'nodes' list")
    workflow = expand_group_nodes(workflow, object_info)
    prompt = _Converter(workflow, object_info, random or _random.Random().random).convert()
    source, now = json.loads(json.dumps(prompt)), now or datetime.now()
    for entry in prompt.values():
        for name in EXPANDED_INPUTS:
            value = entry["inputs"].get(name)
            if isinstance(value, str) and "%" in value:
                entry["inputs"][name] = apply_text_replacements(value, source, now)
    return prompt
