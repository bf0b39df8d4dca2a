"""Calling one node: gather its inputs as per-call lists, map the function over them,
and merge the per-call results back into output lists (COMPAT 4.3 and 4.4)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

from comfy_core.execution.blocker import ExecutionBlocker
from comfy_core.graph.links import link_parts
from comfy_core.registry.schema import InputDef
from comfy_core.registry.v3.node import NodeOutput
from comfy_core.runtime.awaitables import resolve_awaitable

# (source_id, output_index) -> that output's value list, or None while unavailable
Lookup = Callable[[str, int], "list | None"]


@dataclass
class GatheredInputs:
    """values: input name -> list of values (one per call); missing: links not yet available."""

    values: dict[str, list] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)


def gather_inputs(inputs: dict, defs: dict[str, InputDef], lookup: Lookup, hidden: dict) -> GatheredInputs:
    """Links resolve through `lookup` (all of them, declared or not, so dynamic-input
    nodes work); constants only for declared inputs; hidden inputs from `hidden` by kind
    (a hidden input of another kind, e.g. a plugin's combo, gets the prompt's value if
    sent, else nothing: the function's default applies, as in ComfyUI)."""
    got = GatheredInputs()
    for name, value in inputs.items():
        d = defs.get(name)
        parts = link_parts(value)
        if parts is not None and not (d is not None and d.raw_link):
            values = lookup(*parts)
            if values is None:
                got.missing.add(name)
                values = [None]
            got.values[name] = values
        elif d is not None and d.category != "hidden":
            got.values[name] = [value]
    for name, d in defs.items():
        if d.category != "hidden":
            continue
        if isinstance(d.type, str) and d.type in hidden:  # PROMPT, UNIQUE_ID, ...
            got.values[name] = [hidden[d.type]]
        elif name in inputs and link_parts(inputs[name]) is None:
            got.values[name] = [inputs[name]]  # a plugin's own hidden value, as sent
    return got


def call_plan(values: dict[str, list], input_is_list: bool) -> list[dict]:
    """Keyword arguments of each call: whole lists for INPUT_IS_LIST, else element i of
    every list (shorter lists repeat their last element); an empty list means no call."""
    if input_is_list:
        return [dict(values)]
    if not values:
        return [{}]
    lengths = [len(v) for v in values.values()]
    if min(lengths) == 0:
        return []
    return [{k: v[min(i, len(v) - 1)] for k, v in values.items()} for i in range(max(lengths))]


def find_blocker(kwargs: dict, input_is_list: bool) -> ExecutionBlocker | None:
    for value in kwargs.values():
        items = value if input_is_list and isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, ExecutionBlocker):
                return item
    return None


def filter_kwargs(func: Callable, kwargs: dict) -> dict:
    """Only the arguments `func` accepts (IS_CHANGED often names just one input)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return kwargs
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in kwargs.items() if k in names}


@dataclass(frozen=True)
class CallResult:
    """One call's return value, normalised. outputs None: the call returned no result."""

    outputs: tuple | None
    ui: dict | None = None
    expand: dict | None = None


class Spread(list):
    """Values of a link in an expansion's result; merged as several values, not one."""


def normalize_result(value: Any, n_outputs: int, where: str) -> CallResult:
    """Accept a tuple/list, {"result","ui","expand"}, an ExecutionBlocker, None, or a V3
    NodeOutput (whose `block_execution` message blocks every output)."""
    if isinstance(value, NodeOutput):
        return _from_node_output(value, n_outputs, where)
    if isinstance(value, dict):
        result = value.get("result")
        if isinstance(result, ExecutionBlocker):
            result = (result,) * n_outputs
        elif result is not None and not isinstance(result, (tuple, list)):
            raise TypeError(f"{where} returned a 'result' of type {type(result).__name__}; expected a tuple")
        ui = value.get("ui")
        if ui is not None and not isinstance(ui, dict):
            raise TypeError(f"{where} returned a 'ui' of type {type(ui).__name__}; expected a dict")
        expand = value.get("expand")
        return CallResult(tuple(result) if result is not None else None, ui, expand)
    if isinstance(value, ExecutionBlocker):
        return CallResult((value,) * n_outputs)
    if value is None:
        return CallResult(() if n_outputs == 0 else None)
    if isinstance(value, (tuple, list)):
        return CallResult(tuple(value))
    raise TypeError(f"{where} returned {type(value).__name__}; expected a tuple of "
                    f"{n_outputs} output(s) or a dict with 'result'/'ui'")


def _from_node_output(out: NodeOutput, n_outputs: int, where: str) -> CallResult:
    ui = out.ui_dict()
    if ui is not None and not isinstance(ui, dict):
        raise TypeError(f"{where} returned a 'ui' of type {type(ui).__name__}; expected a dict")
    if out.block_execution is not None:
        return CallResult((ExecutionBlocker(out.block_execution),) * n_outputs, ui, out.expand)
    if not out.args:
        return CallResult(() if n_outputs == 0 else None, ui, out.expand)
    return CallResult(tuple(out.args), ui, out.expand)


def merge_outputs(results: list[tuple], output_is_list: tuple[bool, ...], n_outputs: int) -> tuple:
    """Per-call tuples -> one value list per output socket (lists concatenated for
    OUTPUT_IS_LIST sockets; Spread values always extend)."""
    if not results:
        return tuple([] for _ in range(n_outputs))
    width = len(results[0])
    merged = []
    for i in range(width):
        is_list = i < len(output_is_list) and output_is_list[i]
        column: list = []
        for call_index, r in enumerate(results):
            if i >= len(r):
                raise ValueError(f"call {call_index} returned {len(r)} outputs, call 0 returned {width}")
            item = r[i]
            if isinstance(item, Spread) or (is_list and not isinstance(item, ExecutionBlocker)):
                column.extend(item)
            else:
                column.append(item)
        merged.append(column)
    return tuple(merged)


def merge_ui(uis: list[dict]) -> dict | None:
    """UI dicts of several calls: each key's lists concatenated (keys of the first call)."""
    if not uis:
        return None
    merged: dict[str, list] = {}
    for key in uis[0]:
        column: list = []
        for ui in uis:
            value = ui.get(key, [])
            column.extend(value if isinstance(value, (list, tuple)) else [value])
        merged[key] = column
    return merged
