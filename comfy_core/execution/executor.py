"""Executor: runs validated prompts, one at a time, in the calling thread.

It knows neither torch nor concrete nodes: classes come from the NodeRegistry, results
go to a CachePolicy, and everything the client sees goes out through `emit` as Events.
Node code reaches the running job (progress, previews, interrupt) through
`comfy_core.runtime.job()`, which the executor installs for the duration of `run()`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from comfy_core.execution import events as ev
from comfy_core.execution.cache import CachePolicy
from comfy_core.execution.errors import error_payload, interrupted_payload
from comfy_core.execution.run import PromptRun
from comfy_core.registry.registry import NodeRegistry
from comfy_core.registry.schema import NodeSchema
from comfy_core.runtime import Interrupted, JobContext, use_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionResult:
    """What the job worker stores in history (COMPAT 1.4). `error` is the
    execution_error or execution_interrupted data when the run did not succeed."""

    status_str: str  # "success" | "error"
    completed: bool
    outputs: dict  # node id -> ui dict (cached output nodes included)
    messages: list  # [[event type, data with "timestamp"]], as history status.messages
    meta: dict  # node id -> {"node_id","display_node","parent_node","real_node_id"}
    error: dict | None


class Executor:
    """Runs prompts against a registry and a cache policy; keeps node instances per
    (node id, class) between prompts, as ComfyUI does."""

    def __init__(self, registry: NodeRegistry, cache: CachePolicy) -> None:
        self._registry = registry
        self._cache = cache
        self._objects: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @property
    def cache(self) -> CachePolicy:
        return self._cache

    def reset_cache(self) -> None:
        """Forget cached outputs and node instances (POST /free)."""
        with self._lock:
            self._cache.clear()
            self._objects.clear()

    def _instance(self, node_id: str, schema: NodeSchema) -> Any:
        key = (node_id, schema.name)
        obj = self._objects.get(key)
        if obj is None:
            obj = self._objects[key] = schema.cls()
        return obj

    def run(self, prompt: dict, prompt_id: str, extra_data: dict, outputs: list[str],
            emit: Callable[[ev.Event], None], interrupt: threading.Event) -> ExecutionResult:
        """Run `outputs` of a validated prompt; never raises. Does not send the final
        `executing {node: None}` (the job worker sends it once history is saved)."""
        with self._lock:
            messages: list = []
            send = _safe_sender(emit)

            def record(kind: str, data: dict) -> None:
                data = {**data, "timestamp": ev.now_ms()} if "timestamp" not in data else data
                messages.append([kind, data])
                send(ev.Event(kind, data))

            run = PromptRun(self._registry, self._cache, self._instance, prompt, prompt_id,
                            extra_data or {}, send, interrupt)
            try:
                result = self._run(run, outputs, record, messages)
            except Exception as exc:  # a bug in the engine itself; still report, never raise
                log.exception("executor failed on prompt %s", prompt_id)
                result = self._failure(run, messages, record, exc)
            self._after_run(run)
            run.release()
            return result

    def _run(self, run: PromptRun, outputs: list[str], record, messages: list) -> ExecutionResult:
        self._cache.begin_prompt()
        record(ev.EXECUTION_START, {"prompt_id": run.prompt_id})
        job = JobContext(run.prompt_id, run.interrupt, on_progress=_progress_sink(run),
                         extra_data=run.extra_data)
        try:
            with use_job(job):
                cached = _cached_nodes(run)
                record(ev.EXECUTION_CACHED, {"nodes": cached, "prompt_id": run.prompt_id})
                run.job = job
                run.run_all(list(outputs))
        except Interrupted:
            run.interrupt.clear()
            node = run.current
            payload = interrupted_payload(run.prompt_id, node, _node_type(run, node), run.executed, ev.now_ms())
            record(ev.EXECUTION_INTERRUPTED, payload)
            return self._result(run, messages, "error", False, payload)
        except Exception as exc:
            return self._failure(run, messages, record, exc)
        record(ev.EXECUTION_SUCCESS, {"prompt_id": run.prompt_id})
        return self._result(run, messages, "success", True, None)

    def _failure(self, run: PromptRun, messages: list, record, exc: BaseException) -> ExecutionResult:
        node = run.current
        log.error("prompt %s failed in node %s: %s", run.prompt_id, node, exc,
                  exc_info=(type(exc), exc, exc.__traceback__))
        node_type = _node_type(run, node)
        payload = error_payload(
            run.prompt_id, run.dyn.get_real_node_id(node) if node else None, node_type, exc,
            executed=run.executed, inputs=run.current_inputs, outputs=list(run.values), timestamp=ev.now_ms(),
            hint=self._registry.note_for(node_type))
        record(ev.EXECUTION_ERROR, payload)
        return self._result(run, messages, "error", False, payload)

    @staticmethod
    def _result(run: PromptRun, messages: list, status: str, completed: bool, error: dict | None) -> ExecutionResult:
        return ExecutionResult(status, completed, dict(run.ui_outputs), list(messages), dict(run.meta), error)

    def _after_run(self, run: PromptRun) -> None:
        try:
            self._cache.end_prompt(run.used_keys)
        except Exception:
            log.exception("cache clean-up after prompt %s failed", run.prompt_id)
        live = run.dyn.all_node_ids()
        for key in [k for k in self._objects if k[0] not in live]:
            del self._objects[key]


def _node_type(run: PromptRun, node_id: str | None) -> str | None:
    if node_id is None or not run.dyn.has_node(node_id):
        return None
    return run.dyn.get_node(node_id).get("class_type")


def _cached_nodes(run: PromptRun) -> list[str]:
    """Prompt nodes whose outputs are already cached (IS_CHANGED evaluated for all)."""
    cached = []
    for node_id in run.dyn.get_original_prompt():
        run.is_changed(node_id)
        if run.keys.key(node_id) in run.cache:
            cached.append(node_id)
    return cached


def _progress_sink(run: PromptRun) -> Callable[[int, int, Any], None]:
    def sink(value: int, total: int, preview: Any) -> None:
        node = run.current
        if node is None:
            return
        run.progress.update(node, value, total)
        if preview is not None:
            run.progress.preview(node, preview)

    return sink


def _safe_sender(emit: Callable[[ev.Event], None]) -> Callable[[ev.Event], None]:
    """A failing event sink must not fail the prompt."""

    def send(event: ev.Event) -> None:
        try:
            emit(event)
        except Exception:
            log.exception("event sink failed on %s", event.type)

    return send
