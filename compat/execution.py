"""`execution`: ComfyUI's executor module names for plugins (COMPAT-PLUGINS 5.3), over our
Executor, validation and job store.

`PromptQueue` is the queue view `PromptServer.instance.prompt_queue` is made of;
`PromptExecutor` runs a prompt in the calling thread with the server's registry, sending
its events through the given server; `validate_prompt` is our validation in ComfyUI's
tuple shape.
"""

from __future__ import annotations

import asyncio
import enum
import threading
import traceback
from typing import Any

from comfy_core.api.plugin_queue import PromptQueueView as PromptQueue
from comfy_core.execution.blocker import ExecutionBlocker
from comfy_core.execution.cache import make_cache
from comfy_core.execution.events import HISTORY_MESSAGES
from comfy_core.execution.executor import Executor
from comfy_core.graph.validate import validate_prompt as _validate
from comfy_core.runtime import Interrupted
from comfy_core.runtime.plugin_host import plugin_host

__all__ = ["CacheType", "ExecutionBlocker", "PromptExecutor", "PromptQueue", "validate_prompt"]


class CacheType(enum.Enum):
    CLASSIC = 0
    LRU = 1
    NONE = 2
    RAM_PRESSURE = 3


_CACHE_KINDS = {CacheType.CLASSIC: "classic", CacheType.LRU: "lru", CacheType.NONE: "none",
                CacheType.RAM_PRESSURE: "ram"}


class PromptExecutor:
    """Runs prompts against the running server's nodes (its own cache)."""

    def __init__(self, server: Any, cache_type: CacheType = CacheType.CLASSIC,
                 cache_args: dict | None = None) -> None:
        args = cache_args or {}
        self.server = server
        self.cache_type = cache_type
        self._executor = Executor(plugin_host().registry, make_cache(
            _CACHE_KINDS.get(cache_type, "classic"), lru_size=max(1, int(args.get("lru", 0) or 0)) if cache_type == CacheType.LRU else 0,
            ram_headroom_gb=float(args.get("ram", 4.0) or 4.0)))
        self.reset()

    def reset(self) -> None:
        self.success = True
        self.status_messages: list = []
        self.history_result: dict = {}

    def add_message(self, event: str, data: dict, broadcast: bool) -> None:
        self.status_messages.append((event, data))
        client_id = getattr(self.server, "client_id", None)
        if self.server is not None and (client_id is not None or broadcast):
            self.server.send_sync(event, data, client_id)

    def handle_execution_error(self, prompt_id: str, prompt: dict, current_outputs: Any,
                               executed: Any, error: dict, ex: BaseException | None) -> None:
        """Called with the run's error payload when a prompt fails (packs wrap it)."""
        kind = "execution_interrupted" if isinstance(ex, Interrupted) else "execution_error"
        self.status_messages.append((kind, error))

    def execute(self, prompt: dict, prompt_id: str, extra_data: dict | None = None,
                execute_outputs: list | None = None) -> None:
        extra_data = extra_data or {}
        self.reset()
        client_id = extra_data.get("client_id")

        def emit(event: Any) -> None:
            if event.type in HISTORY_MESSAGES:
                self.status_messages.append((event.type, event.data))
            if self.server is not None and client_id is not None:
                self.server.send_sync(event.type, event.data, client_id)

        result = self._executor.run(prompt, prompt_id, extra_data, list(execute_outputs or []),
                                    emit, threading.Event())
        self.success = result.status_str == "success"
        self.history_result = {"outputs": result.outputs, "meta": result.meta}
        if not self.success and result.error is not None:
            self.handle_execution_error(prompt_id, prompt, [], result.error.get("executed", []),
                                        result.error, None)

    async def execute_async(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.to_thread(self.execute, *args, **kwargs)


async def validate_prompt(prompt_id: Any, prompt: dict, partial_execution_list: list | None = None
                          ) -> tuple[bool, dict | None, list, dict]:
    """(valid, error, output node ids, node_errors) for an API prompt."""
    result = await asyncio.to_thread(_validate, plugin_host().registry, prompt,
                                     partial_execution_list)
    return result.ok, result.error, list(result.outputs), result.node_errors


def format_exception(exc: BaseException) -> list[str]:
    return traceback.format_exception(exc)
