"""validate_prompt: check an API prompt before it is queued (COMPAT 1.3 and 4.1).

Anything a client sends becomes a Validation value, never an exception. Constants are
converted in a copy of the prompt (`Validation.prompt`), which is what the executor runs.
Unlike ComfyUI, dependency cycles are found here rather than at run time.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from typing import Any

from comfy_core.graph.links import link_parts
from comfy_core.graph.order import cycle_members, topological_order
from comfy_core.graph.validate_node import LinkTarget, check_custom, check_inputs, error
from comfy_core.registry.registry import NodeRegistry
from comfy_core.registry.schema import InputDef

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Validation:
    """ok False: reject with `error` (HTTP 400). ok True: run `outputs` of `prompt` (the
    converted copy); `node_errors` may still list outputs that were dropped."""

    ok: bool
    error: dict | None
    outputs: list[str]
    node_errors: dict
    prompt: dict = field(default_factory=dict)


def exception_info(exc: BaseException) -> dict:
    return {"exception_type": full_type_name(type(exc)),
            "traceback": traceback.format_tb(exc.__traceback__)}


def full_type_name(cls: type) -> str:
    """Qualified class name, builtins unqualified (as ComfyUI reports exception types)."""
    module = cls.__module__
    return cls.__qualname__ if module in (None, "builtins") else f"{module}.{cls.__qualname__}"


def _invalid(message: str, details: str) -> Validation:
    return Validation(False, error("invalid_prompt", message, details), [], {})


def validate_prompt(
    registry: NodeRegistry, prompt: Any, partial_targets: list[str] | None = None
) -> Validation:
    """Validate a whole API prompt; never raises."""
    try:
        return _validate(registry, prompt, partial_targets)
    except Exception as exc:  # a bug or a hostile payload; report, do not crash the caller
        log.exception("validation failed unexpectedly")
        err = error("exception_during_validation", "Exception when validating prompt", str(exc),
                    **exception_info(exc))
        return Validation(False, err, [], {})


def _copy_prompt(registry: NodeRegistry, prompt: Any) -> dict | Validation:
    """Shallow-copy nodes and their inputs, checking each node's class; or a rejection."""
    if not isinstance(prompt, dict):
        return _invalid("Cannot execute because the prompt is not an object of nodes.",
                        f"Prompt is a {type(prompt).__name__}")
    copy: dict[str, dict] = {}
    for node_id, node in prompt.items():
        details = f"Node ID '#{node_id}'"
        if not isinstance(node, dict) or "class_type" not in node:
            return _invalid("Cannot execute because a node is missing the class_type property.",
                            details)
        class_type = node["class_type"]
        if registry.get(class_type) is None:
            return _invalid(f"Cannot execute because node {class_type} does not exist.", details)
        inputs = node.get("inputs", {})
        if not isinstance(inputs, dict):
            return _invalid("Cannot execute because a node's inputs are not an object.", details)
        copy[str(node_id)] = {**node, "inputs": dict(inputs)}
    return copy


def _select_outputs(registry: NodeRegistry, prompt: dict, targets: Any) -> list[str]:
    wanted = None
    if isinstance(targets, list):
        wanted = {t for t in targets if isinstance(t, str)}
    return [
        node_id for node_id, node in prompt.items()
        if registry.get(node["class_type"]).output_node and (wanted is None or node_id in wanted)
    ]


class _PromptCheck:
    """State of one validation run: the copied prompt and per-class input definitions."""

    def __init__(self, registry: NodeRegistry, prompt: dict) -> None:
        self.registry = registry
        self.prompt = prompt
        self._defs: dict[str, dict[str, InputDef]] = {}

    def defs(self, node_id: str) -> dict[str, InputDef]:
        """A node's declared inputs: per class, or per node for V3 dynamic inputs (whose
        inputs follow the node's prompt inputs)."""
        node = self.prompt[node_id]
        schema = self.registry.get(node["class_type"])
        key = f"#{node_id}" if schema.dynamic_inputs else node["class_type"]
        if key not in self._defs:
            self._defs[key] = schema.input_defs(node["inputs"])
        return self._defs[key]

    def links(self, node_id: str) -> list[tuple[str, str]]:
        """(input_name, source_id) of declared inputs that link to an existing node."""
        node = self.prompt[node_id]
        try:
            defs = self.defs(node_id)
        except Exception:  # INPUT_TYPES raised; reported when the node itself is checked
            return []
        found = []
        for name, value in node["inputs"].items():
            d = defs.get(name)
            parts = link_parts(value)
            if d is not None and d.category != "hidden" and parts and parts[0] in self.prompt:
                found.append((name, parts[0]))
        return found

    def resolve(self, value: Any) -> LinkTarget:
        if len(value) != 2:
            return LinkTarget(problem="shape")
        parts = link_parts(value)
        if parts is None:
            return LinkTarget(problem=f"{value!r} is not [node_id string, output index]")
        source, index = parts
        if source not in self.prompt:
            return LinkTarget(problem=f"node {source!r} does not exist")
        types = self.registry.get(self.prompt[source]["class_type"]).return_types
        if index >= len(types):
            return LinkTarget(problem=f"node {source!r} has no output {index}")
        return LinkTarget(types[index])

    def own_errors(self, node_id: str) -> list[dict]:
        node = self.prompt[node_id]
        schema = self.registry.get(node["class_type"])
        defs = self.defs(node_id)
        errors, received = check_inputs(node_id, node["inputs"], schema, defs, self.resolve)
        if not errors:
            errors = check_custom(node_id, node["inputs"], schema, defs, received, self.prompt)
        return errors


def _validate(registry: NodeRegistry, prompt: Any, targets: Any) -> Validation:
    copy = _copy_prompt(registry, prompt)
    if isinstance(copy, Validation):
        return copy
    outputs = _select_outputs(registry, copy, targets)
    if not outputs:
        return Validation(False, error("prompt_no_outputs", "Prompt has no outputs", ""), [], {})
    check = _PromptCheck(registry, copy)
    deps = {}

    def sources(node_id: str) -> list[str]:
        if node_id not in deps:
            deps[node_id] = [src for _, src in check.links(node_id)]
        return deps[node_id]

    order, cycles = topological_order(outputs, sources)
    in_cycle = cycle_members(cycles)
    own = _node_errors(check, order, in_cycle, set(outputs))
    valid: dict[str, bool] = {}
    for node_id in order:  # dependencies first, so each source is decided already
        valid[node_id] = not own.get(node_id) and all(valid.get(s, False) for s in sources(node_id))
    good = [o for o in outputs if valid[o]]
    sets_budget, report_budget = _Budget(MAX_REPORT_WORK), _Budget(MAX_REPORT_WORK)
    culprits = _culprits(order, own, in_cycle, sources, sets_budget)
    walk = _AncestorWalk(own, valid, sources, report_budget)
    node_errors = _report(check, own, [o for o in outputs if not valid[o]], culprits, order,
                          walk)
    if report_budget.exceeded:
        log.warning("prompt with %d nodes: dependent_outputs of its node errors were cut short",
                    len(order))
    if good:
        return Validation(True, None, good, node_errors, copy)
    lines = [f"{e['message']}: {e['details']}" for entry in node_errors.values() for e in entry["errors"]]
    extra = {}
    if report_budget.exceeded:
        lines.append(TRUNCATED_NOTE)
        extra["dependent_outputs_truncated"] = True
    err = error("prompt_outputs_failed_validation", "Prompt outputs failed validation",
                "\n".join(lines), **extra)
    return Validation(False, err, [], node_errors)


def _cycle_error(node_id: str, members: list[str]) -> dict:
    """One cycle member's error; its text and `cycle` list stay short however long the
    cycle is (a per-member copy of a 30,000-node cycle would be quadratic)."""
    shown = members[:CYCLE_NAMES_SHOWN]
    names = ", ".join(shown) + (f", ... ({len(members) - len(shown)} more)"
                                if len(members) > len(shown) else "")
    what = "linked to itself" if len(members) == 1 else \
        f"part of a dependency cycle of {len(members)} nodes: {names}"
    return error("dependency_cycle", "Dependency cycle detected", f"Node {node_id} is {what}",
                 cycle=shown, cycle_size=len(members))


def _node_errors(check: _PromptCheck, order: list[str], cycles: dict[str, list[str]],
                 outputs: set[str]) -> dict[str, list[dict]]:
    """Each reachable node's own errors (cycles, inputs, VALIDATE_INPUTS, exceptions)."""
    own: dict[str, list[dict]] = {}
    consumers: dict[str, tuple[str, str]] = {}
    for node_id in reversed(order):  # consumers before their sources
        for name, src in check.links(node_id):
            consumers.setdefault(src, (node_id, name))
    for node_id in order:
        if node_id in cycles:
            own[node_id] = [_cycle_error(node_id, cycles[node_id])]
            continue
        try:
            own[node_id] = check.own_errors(node_id)
        except Exception as exc:
            own[node_id] = [_exception_error(check, node_id, exc, consumers.get(node_id), outputs)]
    return own


def _exception_error(check: _PromptCheck, node_id: str, exc: Exception,
                     consumer: tuple[str, str] | None, outputs: set[str]) -> dict:
    if node_id in outputs or consumer is None:
        return error("exception_during_validation", "Exception when validating node", str(exc),
                     **exception_info(exc))
    parent, name = consumer
    return error("exception_during_inner_validation", "Exception when validating inner node",
                 str(exc), input_name=name, exception_message=str(exc),
                 linked_node=check.prompt[parent]["inputs"][name], **exception_info(exc))


# A report names, for each node with its own errors, the failing outputs that depend on it.
# On a hostile graph (thousands of erroring nodes in a chain, each feeding thousands of
# outputs) those lists are quadratic in the graph, so the work spent on them is bounded:
# past this many set elements and (node, output) pairs the lists stop growing. Every node
# with its own errors is still reported.
MAX_REPORT_WORK = 200_000
CYCLE_NAMES_SHOWN = 10
TRUNCATED_NOTE = ("(the graph is too large to list every failing output under each node "
                  "error: dependent_outputs lists are incomplete)")


class _Budget:
    """Work left for dependent_outputs; `exceeded` once any step was refused."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.exceeded = False

    def spend(self, amount: int) -> bool:
        if self.exceeded or amount > self.left:
            self.exceeded = True
            return False
        self.left -= amount
        return True


def _culprits(order: list[str], own: dict[str, list[dict]], in_cycle: dict[str, list[str]],
              sources, budget: _Budget) -> dict[str, frozenset[str] | None]:
    """For each node, the nodes with their own errors among itself and its ancestors, in
    one pass in dependency order. A node that adds nothing shares its source's set, so a
    long chain below one error costs O(n), not O(n^2); a cycle's members share one set.
    None where the budget ran out (unknown)."""
    found: dict[str, frozenset[str] | None] = {}
    cycle_sets: dict[int, frozenset[str]] = {}
    for node_id in order:
        sets = [found[s] for s in sources(node_id) if s in found]
        if node_id in in_cycle:
            members = in_cycle[node_id]
            if id(members) not in cycle_sets and budget.spend(len(members)):
                cycle_sets[id(members)] = frozenset(members)
            sets.append(cycle_sets.get(id(members)))
        found[node_id] = _merge(node_id, sets, bool(own.get(node_id)), budget)
    return found


def _merge(node_id: str, sets: list, has_own: bool, budget: _Budget) -> frozenset[str] | None:
    """The union of `sets` (plus `node_id` if it has its own errors), reusing the largest
    set when it already holds the rest."""
    if any(s is None for s in sets):
        return None
    merged = max(sets, key=len) if sets else frozenset()
    extra = []
    for s in sets:
        if s is merged or not s:
            continue
        if not budget.spend(len(s)):
            return None
        if not s <= merged:
            extra.append(s)
    if extra or (has_own and node_id not in merged):
        size = len(merged) + sum(map(len, extra)) + 1
        if not budget.spend(size):
            return None
        merged = merged.union(*extra, (node_id,) if has_own else ())
    return merged


class _AncestorWalk:
    """An output's culprits found by walking its failing ancestors (for outputs whose set
    `_culprits` gave up on), each visit charged to `budget`."""

    def __init__(self, own: dict[str, list[dict]], valid: dict[str, bool], sources,
                 budget: _Budget) -> None:
        self.own, self.valid, self.sources, self.budget = own, valid, sources, budget

    def culprits(self, output: str) -> set[str] | None:
        seen, todo, found = {output}, [output], set()
        while todo:
            if not self.budget.spend(1):
                return None
            node_id = todo.pop()
            if self.own.get(node_id):
                found.add(node_id)
            for src in self.sources(node_id):
                if src not in seen and not self.valid.get(src, False):
                    seen.add(src)
                    todo.append(src)
        return found


def _report(check: _PromptCheck, own: dict[str, list[dict]], bad_outputs: list[str],
            culprits: dict[str, frozenset[str] | None], order: list[str],
            walk: _AncestorWalk) -> dict:
    """node_errors: nodes with their own errors and the invalid outputs depending on them
    (each output's culprits in dependency order)."""
    position = {node_id: i for i, node_id in enumerate(order)}
    report: dict[str, dict] = {}

    def entry(node_id: str) -> dict:
        return report.setdefault(node_id, {
            "errors": own[node_id], "dependent_outputs": [],
            "class_type": check.prompt[node_id]["class_type"]})

    ranked: dict[int, list[str]] = {}  # shared culprit sets are sorted once
    for output in bad_outputs:
        shared = culprits[output]  # kept alive by `culprits`, so its id is stable
        found = shared if shared is not None else walk.culprits(output)
        if found is None or not walk.budget.spend(len(found)):
            break
        if shared is None:
            names = sorted(found, key=position.__getitem__)
        else:
            names = ranked.setdefault(id(shared), sorted(shared, key=position.__getitem__))
        for node_id in names:
            entry(node_id)["dependent_outputs"].append(output)
    for node_id in order:  # past the budget: every node with its own errors still listed
        if own.get(node_id):
            entry(node_id)
    return report
