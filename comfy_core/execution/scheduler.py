"""Which staged node runs next (COMPAT 4.2): dependency counts plus ComfyUI's preference
for output nodes, then nodes feeding an output, then nodes two hops from one."""

from __future__ import annotations

from typing import Callable


class Schedule:
    """Staged nodes, the unfinished nodes each waits on, and who waits on whom."""

    def __init__(self, is_output: Callable[[str], bool]) -> None:
        self._is_output = is_output
        self._staged: dict[str, None] = {}  # insertion-ordered set
        self._waiting_on: dict[str, set[str]] = {}
        self._waiters: dict[str, set[str]] = {}
        self._ready: dict[str, None] = {}  # staged and waiting on nothing, in staging order

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._staged

    def __len__(self) -> int:
        return len(self._staged)

    def stage(self, node_id: str) -> None:
        if node_id not in self._staged:
            self._staged[node_id] = None
            if not self._waiting_on.setdefault(node_id, set()):
                self._ready[node_id] = None

    def add_dependency(self, node_id: str, dependency: str) -> None:
        """`node_id` may not run before `dependency` completes."""
        self._waiting_on.setdefault(node_id, set()).add(dependency)
        self._waiters.setdefault(dependency, set()).add(node_id)
        self._ready.pop(node_id, None)

    def complete(self, node_id: str) -> None:
        self._staged.pop(node_id, None)
        self._waiting_on.pop(node_id, None)
        self._ready.pop(node_id, None)
        for waiter in self._waiters.pop(node_id, ()):
            waiting = self._waiting_on.get(waiter)
            if waiting is not None:
                waiting.discard(node_id)
                if not waiting and waiter in self._staged:
                    self._ready[waiter] = None

    def next_ready(self) -> str | None:
        ready = list(self._ready)
        if not ready:
            return None
        for test in (self._is_output, self._feeds_output, self._two_hops_from_output):
            for node_id in ready:
                if test(node_id):
                    return node_id
        return ready[0]

    def _feeds_output(self, node_id: str) -> bool:
        return any(self._is_output(w) for w in self._waiters.get(node_id, ()))

    def _two_hops_from_output(self, node_id: str) -> bool:
        return any(self._feeds_output(w) for w in self._waiters.get(node_id, ()))

    def blocked(self) -> list[str]:
        """Staged nodes that can never run (they wait on each other)."""
        return list(self._staged)
