"""ExecutionBlocker: a value that stops everything downstream of it (COMPAT 4.4).

A node may return an ExecutionBlocker in place of any output (or of its whole result).
Nodes that would receive it are not called; their outputs become blockers too. When the
blocker carries a message, the first node it stops reports an `execution_error` with
exception_type "ExecutionBlocked" and the prompt carries on; with `message=None` the
block is silent (the usual way to switch a branch off).
"""

from __future__ import annotations


class ExecutionBlocker:
    """Stand-in output that blocks consumers; `message` None means block silently."""

    __slots__ = ("message",)

    def __init__(self, message: str | None) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"ExecutionBlocker({self.message!r})"
