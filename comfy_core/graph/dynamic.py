"""DynamicPrompt: the prompt being run plus the ephemeral nodes that node expansion adds.

Method names follow ComfyUI's DYNPROMPT hidden input, which plugins call directly.
"""

from __future__ import annotations

from typing import Any


class NodeNotFoundError(KeyError):
    """A node id that is neither in the prompt nor added by an expansion."""


class DuplicateNodeError(ValueError):
    """An expansion tried to add a node id that already exists."""


class DynamicPrompt:
    """The prompt of one run; expansions add ephemeral nodes with a parent and display id."""

    def __init__(self, original_prompt: dict) -> None:
        self._original = original_prompt
        self._ephemeral: dict[str, dict] = {}
        self._parents: dict[str, str] = {}
        self._display: dict[str, str] = {}

    def get_node(self, node_id: str) -> dict:
        node = self._ephemeral.get(node_id) or self._original.get(node_id)
        if node is None:
            raise NodeNotFoundError(f"node {node_id!r} not found in the prompt")
        return node

    def has_node(self, node_id: str) -> bool:
        return node_id in self._original or node_id in self._ephemeral

    def is_ephemeral(self, node_id: str) -> bool:
        return node_id in self._ephemeral

    def add_ephemeral_node(self, node_id: str, node_info: dict, parent_id: str, display_id: str) -> None:
        if self.has_node(node_id):
            raise DuplicateNodeError(
                f"node expansion by {parent_id!r} adds node {node_id!r}, which already exists; "
                "expanded node ids must be unique (prefix them with the parent id)")
        self._ephemeral[node_id] = node_info
        self._parents[node_id] = parent_id
        self._display[node_id] = display_id

    def get_real_node_id(self, node_id: str) -> str:
        """The node of the user's prompt that (through expansions) created `node_id`."""
        while node_id in self._parents:
            node_id = self._parents[node_id]
        return node_id

    def get_parent_node_id(self, node_id: str) -> str | None:
        return self._parents.get(node_id)

    def get_display_node_id(self, node_id: str) -> str:
        """Where the UI should show this node's activity (the expanding node by default)."""
        seen = set()
        while node_id in self._display and node_id not in seen:
            seen.add(node_id)
            nxt = self._display[node_id]
            if nxt == node_id:
                break
            node_id = nxt
        return node_id

    def all_node_ids(self) -> set[str]:
        return set(self._original) | set(self._ephemeral)

    def get_original_prompt(self) -> dict:
        return self._original

    def node_meta(self, node_id: str) -> dict[str, Any]:
        """The history "meta" entry for a node."""
        return {"node_id": node_id, "display_node": self.get_display_node_id(node_id),
                "parent_node": self.get_parent_node_id(node_id),
                "real_node_id": self.get_real_node_id(node_id)}
