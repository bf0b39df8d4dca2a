"""Graph walks without recursion (1,000-node chains must not hit Python's stack limit),
linear in the size of the graph (a hostile prompt may hold a cycle of 100,000 nodes)."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

Deps = Callable[[str], Iterable[str]]


class DependencyCycleError(Exception):
    """Nodes depend on each other in a loop, so none of them can run."""

    # ComfyUI reports this error type as "graph.DependencyCycleError"; clients may match it.
    __module__ = "graph"


class _Walk:
    """State of one Tarjan strongly-connected-components walk (iterative)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()
        self.self_loops: set[str] = set()
        self.order: list[str] = []
        self.cycles: list[list[str]] = []

    def enter(self, node: str) -> Iterator[str]:
        self.index[node] = self.low[node] = len(self.index)
        self.stack.append(node)
        self.on_stack.add(node)
        return iter(self.deps(node))

    def run(self, root: str) -> None:
        work = [(root, self.enter(root))]
        while work:
            node, pending = work[-1]
            nxt = next(pending, None)
            if nxt is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    self.low[parent] = min(self.low[parent], self.low[node])
                if self.low[node] == self.index[node]:
                    self.close(node)
            elif nxt not in self.index:
                work.append((nxt, self.enter(nxt)))
            elif nxt in self.on_stack:
                self.low[node] = min(self.low[node], self.index[nxt])
                if nxt == node:
                    self.self_loops.add(node)

    def close(self, root: str) -> None:
        """Pop the component rooted at `root`: dependencies come out first."""
        start = len(self.stack) - 1
        while self.stack[start] != root:
            start -= 1
        members = self.stack[start:]
        del self.stack[start:]
        self.on_stack.difference_update(members)
        self.order.extend(reversed(members))
        if len(members) > 1 or root in self.self_loops:
            self.cycles.append(members)


def topological_order(roots: Iterable[str], deps: Deps) -> tuple[list[str], list[list[str]]]:
    """Post-order (dependencies first) of everything reachable from `roots`, and the
    dependency cycles met on the way: each strongly connected component of more than one
    node (or a node linked to itself), its members in the order the walk met them. `deps`
    is called once per node; time and memory are linear in nodes plus links."""
    walk = _Walk(deps)
    for root in roots:
        if root not in walk.index:
            walk.run(root)
    return walk.order, walk.cycles


def cycle_members(cycles: list[list[str]]) -> dict[str, list[str]]:
    """node id -> the cycle (component) it belongs to; members share one list."""
    members: dict[str, list[str]] = {}
    for cycle in cycles:
        for node in cycle:
            members.setdefault(node, cycle)
    return members
