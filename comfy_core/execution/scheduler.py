"""Which staged node runs next (COMPAT 4.2): dependency counts plus ComfyUI's preference
for output nodes, then nodes feeding an output, then nodes two hops from one, then the
rest in the order they became ready."""

from __future__ import annotations

from typing import Callable

OTHER_RANK = 3


class Schedule:
    """Staged nodes, the unfinished nodes each waits on, and who waits on whom. Ready
    nodes sit in one bucket per rank so picking the next one is cheap on wide graphs."""

    def __init__(self, is_output: Callable[[str], bool]) -> None:
        self._is_output = is_output
        self._staged: dict[str, None] = {}  # insertion-ordered set
        self._waiting_on: dict[str, set[str]] = {}
        self._waiters: dict[str, set[str]] = {}
        self._buckets: list[dict[str, None]] = [{} for _ in range(OTHER_RANK + 1)]
        self._rank: dict[str, int] = {}  # ready node -> its bucket
        self._dirty = False  # waiters changed: ranks of ready nodes may be stale

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._staged

    def __len__(self) -> int:
        return len(self._staged)

    def stage(self, node_id: str) -> None:
        if node_id not in self._staged:
            self._staged[node_id] = None
            if not self._waiting_on.setdefault(node_id, set()):
                self._make_ready(node_id)

    def add_dependency(self, node_id: str, dependency: str) -> None:
        """`node_id` may not run before `dependency` completes."""
        self._waiting_on.setdefault(node_id, set()).add(dependency)
        self._waiters.setdefault(dependency, set()).add(node_id)
        self._unready(node_id)
        self._dirty = True

    def complete(self, node_id: str) -> None:
        self._staged.pop(node_id, None)
        self._waiting_on.pop(node_id, None)
        self._unready(node_id)
        for waiter in self._waiters.pop(node_id, ()):
            waiting = self._waiting_on.get(waiter)
            if waiting is not None:
                waiting.discard(node_id)
                if not waiting and waiter in self._staged and waiter not in self._rank:
                    self._make_ready(waiter)

    def next_ready(self) -> str | None:
        if self._dirty:
            self._dirty = False
            ready = [n for n in self._staged if n in self._rank]
            for n in ready:
                self._unready(n)
            for n in ready:
                self._make_ready(n)
        for bucket in self._buckets:
            if bucket:
                return next(iter(bucket))
        return None

    def blocked(self) -> list[str]:
        """Staged nodes that can never run (they wait on each other)."""
        return list(self._staged)

    def _make_ready(self, node_id: str) -> None:
        rank = self._compute_rank(node_id)
        self._rank[node_id] = rank
        self._buckets[rank][node_id] = None

    def _unready(self, node_id: str) -> None:
        rank = self._rank.pop(node_id, None)
        if rank is not None:
            self._buckets[rank].pop(node_id, None)

    def _compute_rank(self, node_id: str) -> int:
        if self._is_output(node_id):
            return 0
        if self._feeds_output(node_id):
            return 1
        if any(self._feeds_output(w) for w in self._waiters.get(node_id, ())):
            return 2
        return OTHER_RANK

    def _feeds_output(self, node_id: str) -> bool:
        return any(self._is_output(w) for w in self._waiters.get(node_id, ()))
