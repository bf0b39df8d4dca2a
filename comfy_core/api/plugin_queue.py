"""`PromptServer.instance.prompt_queue`: ComfyUI's PromptQueue methods over our job store.

Packs read the queue (`get_current_queue`, `get_tasks_remaining`, `get_history`), clear it
or queue prompts directly (`put`). Every call goes to the durable store, so what a pack
sees is what /queue and /history answer.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

log = logging.getLogger(__name__)


class PromptQueueView:
    """ComfyUI's `execution.PromptQueue` interface over a JobStore (None: an empty queue)."""

    def __init__(self, store: Any, server: Any) -> None:
        self._store = store
        self.server = server

    def put(self, item: tuple | list) -> None:
        """Queue `(number, prompt_id, prompt, extra_data, outputs[, sensitive])` as given
        (like ComfyUI's, without validation)."""
        number, prompt_id, prompt, extra_data, outputs = item[:5]
        sensitive = item[5] if len(item) > 5 and isinstance(item[5], dict) else {}
        self._need_store().submit(prompt_id, prompt, {**extra_data, **sensitive},
                                  list(outputs), number=number)
        self.server.queue_updated()

    def get_current_queue(self) -> tuple[list, list]:
        """(running items, pending items) as /queue lists them."""
        return self._store.queue() if self._store is not None else ([], [])

    def get_current_queue_volatile(self) -> tuple[list, list]:
        return self.get_current_queue()

    def get_tasks_remaining(self) -> int:
        return self._store.remaining() if self._store is not None else 0

    def wipe_queue(self) -> None:
        if self._store is not None:
            self._store.clear_pending()
            self.server.queue_updated()

    def delete_queue_item(self, function: Callable[[list], bool]) -> bool:
        """Delete the first pending item for which `function(item)` is true."""
        _, pending = self.get_current_queue()
        for item in pending:
            if function(item):
                self._need_store().delete_pending([item[1]])
                self.server.queue_updated()
                return True
        return False

    def get_history(self, prompt_id: str | None = None, max_items: int | None = None,
                    offset: int = -1, map_function: Callable | None = None) -> dict:
        if self._store is None:
            return {}
        if prompt_id is not None:
            record = self._store.history_item(prompt_id)
            found = {} if record is None else {prompt_id: record}
        else:
            found = self._store.history(max_items, offset)
        if map_function is not None:
            found = {k: map_function(v) for k, v in found.items()}
        return found

    def wipe_history(self) -> None:
        if self._store is not None:
            self._store.clear_history()

    def delete_history_item(self, id_to_delete: str) -> None:
        if self._store is not None:
            self._store.delete_history([id_to_delete])

    def set_flag(self, name: str, data: Any) -> None:
        """`unload_models` / `free_memory`, applied by the worker between jobs (as /free)."""
        if name in ("unload_models", "free_memory"):
            self.server.request_free(name == "unload_models" and bool(data),
                                     name == "free_memory" and bool(data))
        else:
            log.debug("queue flag %r ignored", name)

    def _need_store(self) -> Any:
        if self._store is None:
            raise RuntimeError("this server has no job queue")
        return self._store
