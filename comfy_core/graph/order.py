"""Graph walks without recursion (1,000-node chains must not hit Python's stack limit)."""

from __future__ import annotations

from typing import Callable, Iterable

Deps = Callable[[str], Iterable[str]]


class DependencyCycleError(Exception):
    """Nodes depend on each other in a loop, so none of them can run."""

    # ComfyUI reports this error type as "graph.DependencyCycleError"; clients may match it.
    __module__ = "graph"


def topological_order(roots: Iterable[str], deps: Deps) -> tuple[list[str], list[list[str]]]:
    """Post-order (dependencies first) of everything reachable from `roots`, and the cycles
    met on the way, each as a node list in dependency order (iterative colour DFS)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    order: list[str] = []
    cycles: list[list[str]] = []
    for root in roots:
        if root in state:
            continue
        path: list[str] = [root]
        stack = [iter(deps(root))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                done = path.pop()
                state[done] = 2
                order.append(done)
            elif state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):])
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(deps(nxt)))
    return order, cycles


def cycle_members(cycles: list[list[str]]) -> dict[str, list[str]]:
    """node id -> the first cycle it belongs to."""
    members: dict[str, list[str]] = {}
    for cycle in cycles:
        for node in cycle:
            members.setdefault(node, cycle)
    return members
