"""One prompt's execution: staging, the ready loop, cache hits, lazy inputs and expansion.

A PromptRun lives for one `Executor.run` call. Values flowing between nodes are kept in
`values` (node id -> one value list per output), so cache policies can evict freely.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from comfy_core.execution import events as ev
from comfy_core.execution.blocker import ExecutionBlocker
from comfy_core.execution.cache import CacheEntry, CachePolicy
from comfy_core.execution.errors import blocked_payload
from comfy_core.execution.node_call import (
    CallResult, Spread, call_plan, filter_kwargs, find_blocker, gather_inputs, merge_outputs,
    merge_ui, normalize_result,
)
from comfy_core.execution.progress import ProgressTracker
from comfy_core.execution.scheduler import Schedule
from comfy_core.graph.cache_keys import CacheKeys
from comfy_core.graph.dynamic import DynamicPrompt
from comfy_core.graph.links import link_parts
from comfy_core.graph.order import DependencyCycleError
from comfy_core.registry.registry import NodeRegistry
from comfy_core.registry.schema import InputDef, NodeSchema
from comfy_core.runtime import Interrupted, JobContext
from comfy_core.runtime.awaitables import resolve_awaitable

log = logging.getLogger(__name__)

DONE, PENDING = "done", "pending"


class PromptRun:
    """State of one run; `execute()` raises on failure and the Executor reports it."""

    def __init__(self, registry: NodeRegistry, cache: CachePolicy, objects: Callable[[str, NodeSchema], Any],
                 prompt: dict, prompt_id: str, extra_data: dict, send: Callable[[ev.Event], None],
                 interrupt: threading.Event) -> None:
        self.registry, self.cache, self._objects = registry, cache, objects
        self.prompt_id, self.extra_data, self.send, self.interrupt = prompt_id, extra_data, send, interrupt
        self.dyn = DynamicPrompt(prompt)
        self._is_changed: dict[str, Any] = {}
        self.keys = CacheKeys(self.dyn, registry, self.is_changed)
        self.schedule = Schedule(self.is_output)
        self.progress = ProgressTracker(prompt_id, self.dyn, send)
        self.values: dict[str, tuple] = {}
        self.used_keys: set[str] = set()
        self.executed: list[str] = []
        self.ui_outputs: dict[str, dict] = {}
        self.meta: dict[str, dict] = {}
        self.current: str | None = None  # node being run, for error reports
        self.current_inputs: dict[str, list] | None = None
        self._announced: set[str] = set()
        self._expansions: dict[str, list[CallResult]] = {}
        self._defs: dict[str, dict[str, InputDef]] = {}
        self._output_flags: dict[str, bool] = {}
        self.job: JobContext | None = None  # installed by the Executor; node_id follows the run

    def release(self) -> None:
        """Free what the run holds once the Executor has built its result; the run is not
        usable afterwards. Its bound methods (held by CacheKeys and Schedule) and the
        progress sink (held by the JobContext) tie it into reference cycles, so its node
        values would otherwise wait for Python's full cyclic collection, often hundreds of
        jobs later: resident memory then climbs by each job's outputs in between."""
        self.values.clear()
        self.current_inputs = None
        self._expansions.clear()
        del self.keys, self.schedule, self.job

    # --- lookups -------------------------------------------------------------------
    def schema(self, node_id: str) -> NodeSchema:
        class_type = self.dyn.get_node(node_id).get("class_type")
        schema = self.registry.get(class_type)
        if schema is None:
            raise KeyError(f"node {node_id!r}: class_type {class_type!r} is not registered")
        return schema

    def defs(self, node_id: str, schema: NodeSchema) -> dict[str, InputDef]:
        """Declared inputs, per class (per node for V3 dynamic inputs, which follow the
        node's prompt inputs)."""
        key = f"#{node_id}" if schema.dynamic_inputs else schema.name
        if key not in self._defs:
            self._defs[key] = schema.input_defs(self.dyn.get_node(node_id).get("inputs", {}))
        return self._defs[key]

    def is_output(self, node_id: str) -> bool:
        flag = self._output_flags.get(node_id)
        if flag is None:
            schema = self.registry.get(self.dyn.get_node(node_id).get("class_type"))
            flag = self._output_flags[node_id] = schema is not None and schema.output_node
        return flag

    def available(self, node_id: str) -> bool:
        """Outputs known for this run, taking a cache hit into `values` when there is one."""
        if node_id in self.values:
            return True
        key = self.keys.key(node_id)
        entry = self.cache.get(key)
        if entry is None:
            return False
        self.used_keys.add(key)
        self.values[node_id] = entry.outputs
        return True

    def lookup(self, source: str, index: int) -> list | None:
        outputs = self.values.get(source)
        if outputs is None or index >= len(outputs):
            return None
        return outputs[index]

    def hidden(self, node_id: str) -> dict:
        return {"PROMPT": self.dyn.get_original_prompt(), "DYNPROMPT": self.dyn,
                "EXTRA_PNGINFO": self.extra_data.get("extra_pnginfo"), "UNIQUE_ID": node_id,
                "AUTH_TOKEN_COMFY_ORG": self.extra_data.get("auth_token_comfy_org"),
                "API_KEY_COMFY_ORG": self.extra_data.get("api_key_comfy_org")}

    # --- IS_CHANGED ------------------------------------------------------------------
    def is_changed(self, node_id: str) -> Any:
        """IS_CHANGED with constant inputs (links None), once per run; NaN on exception."""
        if node_id not in self._is_changed:
            self._is_changed[node_id] = self._eval_is_changed(node_id)
        return self._is_changed[node_id]

    def _eval_is_changed(self, node_id: str) -> Any:
        schema = self.registry.get(self.dyn.get_node(node_id).get("class_type"))
        if schema is None or not schema.has_is_changed:
            return None
        try:
            defs = self.defs(node_id, schema)
            inputs = gather_inputs(self.dyn.get_node(node_id).get("inputs", {}), defs,
                                   lambda s, i: None, self.hidden(node_id))
            func = schema.method("is_changed", None, self.hidden(node_id))
            return [resolve_awaitable(func(**filter_kwargs(func, schema.shape_kwargs(kw, defs))))
                    for kw in call_plan(inputs.values, schema.input_is_list)]
        except Exception as exc:
            log.warning("IS_CHANGED of node %s (%s) failed: %s", node_id, schema.name, exc)
            return float("nan")

    # --- staging ---------------------------------------------------------------------
    def strong_sources(self, node_id: str) -> list[str]:
        """Sources of the node's non-lazy links that exist in the prompt."""
        node = self.dyn.get_node(node_id)
        schema = self.registry.get(node.get("class_type"))
        defs = self.defs(node_id, schema) if schema is not None else {}
        found = []
        for name, value in node.get("inputs", {}).items():
            parts = link_parts(value)
            d = defs.get(name)
            if parts and not (d is not None and d.lazy) and self.dyn.has_node(parts[0]):
                found.append(parts[0])
        return found

    def stage(self, node_id: str, *, force: bool = False) -> None:
        """Stage a node and, through non-lazy links, every ancestor whose outputs are not
        known yet. `force` stages it even when cached (output nodes re-send their UI)."""
        stack = [(node_id, force)]
        while stack:
            nid, forced = stack.pop()
            if nid in self.schedule or (not forced and self.available(nid)):
                continue
            self.schedule.stage(nid)
            for src in reversed(self.strong_sources(nid)):  # first input runs first
                if not self.available(src):
                    self.schedule.add_dependency(nid, src)
                    stack.append((src, False))

    def run_all(self, outputs: list[str]) -> None:
        for output in outputs:
            self.stage(output, force=True)
        while len(self.schedule):
            node_id = self.schedule.next_ready()
            if node_id is None:
                stuck = self.schedule.blocked()
                self.current = stuck[0]
                raise DependencyCycleError(f"nodes wait on each other and cannot run: {stuck}")
            if self.interrupt.is_set():
                self.current = node_id
                raise Interrupted(f"prompt {self.prompt_id} interrupted before node {node_id}")
            if self.run_node(node_id) == DONE:
                self.schedule.complete(node_id)

    # --- one node --------------------------------------------------------------------
    def run_node(self, node_id: str) -> str:
        self.current, self.current_inputs = node_id, None
        if self.job is not None:
            self.job.node_id = node_id
        schema = self.schema(node_id)
        key = self.keys.key(node_id)
        self.used_keys.add(key)
        if node_id not in self._expansions:
            entry = self.cache.get(key)
            if entry is not None:
                self.values[node_id] = entry.outputs
                self.executed.append(node_id)
                self._send_ui(node_id, entry.ui, always=True)
                self.progress.finish(node_id)
                return DONE
        if node_id not in self._announced:
            self._announced.add(node_id)
            self.send(ev.Event(ev.EXECUTING, {"node": node_id, "display_node":
                               self.dyn.get_display_node_id(node_id), "prompt_id": self.prompt_id}))
            self.progress.start(node_id)
        if node_id in self._expansions:
            return self._finish(node_id, key, schema, self._resolve_expansion(node_id))
        defs = self.defs(node_id, schema)
        inputs = gather_inputs(self.dyn.get_node(node_id).get("inputs", {}), defs,
                               self.lookup, self.hidden(node_id))
        self.current_inputs = inputs.values
        obj = self._objects(node_id, schema)
        if schema.has_check_lazy_status and self._needs_lazy(node_id, obj, schema, inputs, defs):
            return PENDING
        calls = self._call(node_id, obj, schema, inputs.values, defs)
        if any(c.expand is not None for c in calls):
            return self._expand(node_id, calls)
        return self._finish(node_id, key, schema, calls)

    def _needs_lazy(self, node_id: str, obj: Any, schema: NodeSchema, inputs,
                    defs: dict[str, InputDef]) -> bool:
        """Ask check_lazy_status which unevaluated inputs it needs; stage their sources.
        (V3: values nested in dynamic inputs come as (value, prompt input name).)"""
        needed: set[str] = set()
        check = schema.method("lazy", obj, self.hidden(node_id))
        for kwargs in call_plan(inputs.values, schema.input_is_list):
            names = resolve_awaitable(check(**schema.shape_kwargs(kwargs, defs, lazy=True)))
            if isinstance(names, (list, tuple)):
                needed.update(n for n in names if isinstance(n, str))
        node_inputs = self.dyn.get_node(node_id).get("inputs", {})
        added = False
        for name in sorted(needed & inputs.missing):
            parts = link_parts(node_inputs.get(name))
            if parts and self.dyn.has_node(parts[0]) and not self.available(parts[0]):
                self.stage(parts[0])
                self.schedule.add_dependency(node_id, parts[0])
                added = True
        return added

    def _call(self, node_id: str, obj: Any, schema: NodeSchema, values: dict,
              defs: dict[str, InputDef]) -> list[CallResult]:
        func = schema.method("execute", obj, self.hidden(node_id))
        where = f"node {node_id} ({schema.name}).{schema.function}"
        n = len(schema.return_types)
        results = []
        for index, kwargs in enumerate(call_plan(values, schema.input_is_list)):
            if self.interrupt.is_set():
                raise Interrupted(f"prompt {self.prompt_id} interrupted in node {node_id}")
            if self.job is not None:
                self.job.call_index = index  # node expansion names new nodes by it
            blocker = find_blocker(kwargs, schema.input_is_list)
            if blocker is not None:
                results.append(CallResult((self._blocked(node_id, schema, blocker),) * n))
                continue
            result = resolve_awaitable(func(**schema.shape_kwargs(kwargs, defs)))
            results.append(normalize_result(result, n, where))
        return results

    def _blocked(self, node_id: str, schema: NodeSchema, blocker: ExecutionBlocker) -> ExecutionBlocker:
        if blocker.message is None:
            return blocker
        self.send(ev.Event(ev.EXECUTION_ERROR, blocked_payload(
            self.prompt_id, node_id, schema.name, blocker.message, self.executed)))
        return ExecutionBlocker(None)

    def _finish(self, node_id: str, key: str, schema: NodeSchema, calls: list[CallResult]) -> str:
        results = [c.outputs for c in calls if c.outputs is not None]
        outputs = merge_outputs(results, schema.output_is_list, len(schema.return_types)) if results else ()
        ui = merge_ui([c.ui for c in calls if c.ui is not None])
        self.values[node_id] = outputs
        self.cache.put(key, CacheEntry(outputs, ui))
        self.executed.append(node_id)
        self._send_ui(node_id, ui, always=False)
        self.progress.finish(node_id)
        return DONE

    def _send_ui(self, node_id: str, ui: dict | None, *, always: bool) -> None:
        """`executed` for a node's UI (cache hits send it even when there is none)."""
        if ui:
            self.ui_outputs[node_id] = ui
            self.meta[node_id] = self.dyn.node_meta(node_id)
        if ui or always:
            self.send(ev.Event(ev.EXECUTED, {"node": node_id, "display_node":
                               self.dyn.get_display_node_id(node_id), "output": ui,
                               "prompt_id": self.prompt_id}))

    # --- expansion ---------------------------------------------------------------------
    def _expand(self, node_id: str, calls: list[CallResult]) -> str:
        """Add the returned subgraphs as ephemeral nodes; the node finishes once the
        sources of its result links are done (COMPAT 4.4)."""
        new_outputs: list[str] = []
        sources: list[str] = []
        for call in calls:
            if call.expand is None:
                continue
            if not isinstance(call.expand, dict):
                raise TypeError(f"node {node_id} returned 'expand' of type {type(call.expand).__name__}")
            for eid, info in call.expand.items():
                if not isinstance(info, dict) or self.registry.get(info.get("class_type")) is None:
                    raise ValueError(f"node {node_id} expanded into node {eid!r} with an unknown "
                                     f"or missing class_type: {info!r}")
                self.dyn.add_ephemeral_node(str(eid), info, node_id, info.get("override_display_id", node_id))
                if self.is_output(str(eid)):
                    new_outputs.append(str(eid))
            sources += [p[0] for p in map(link_parts, call.outputs or ()) if p]
        self._expansions[node_id] = calls
        for eid in new_outputs:
            self.stage(eid, force=True)
        for src in sources:
            if self.dyn.has_node(src) and not self.available(src):
                self.stage(src)
                self.schedule.add_dependency(node_id, src)
        return PENDING

    def _resolve_expansion(self, node_id: str) -> list[CallResult]:
        resolved = []
        for call in self._expansions.pop(node_id):
            if call.expand is None or call.outputs is None:
                resolved.append(call)
                continue
            outputs = []
            for value in call.outputs:
                parts = link_parts(value)
                if parts is None:
                    outputs.append(value)
                else:
                    outputs.append(Spread(self.lookup(*parts) or [None]))
            resolved.append(CallResult(tuple(outputs), call.ui))
        return resolved
