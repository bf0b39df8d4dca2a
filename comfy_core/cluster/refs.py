"""What a prompt needs from a worker: the model files it names and the node types it uses.

Pure functions over plain data (no Ray): the dispatcher matches these requirements against
what each worker reported it can see, and the submit check refuses a prompt that no worker
can run, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping

# folder key -> file names (relative, as the loaders' combo lists show them)
FileIndex = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class FileRef:
    """One input value that names a model file: where in the prompt, and the folders of
    the cluster it can come from."""

    node_id: str
    input_name: str
    name: str
    folders: frozenset[str]
    class_type: str | None = None


@dataclass(frozen=True)
class Requirements:
    """The model files (with their folders) and node types a worker must have."""

    refs: tuple[FileRef, ...] = ()
    node_types: frozenset[str] = frozenset()
    files: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", frozenset(r.name for r in self.refs))


@dataclass(frozen=True)
class WorkerCaps:
    """What one worker can run: the model files it sees and the node types it loaded."""

    files: FileIndex
    node_types: frozenset[str]

    def has(self, ref: FileRef) -> bool:
        return any(ref.name in self.files.get(folder, ()) for folder in ref.folders)

    def missing(self, req: Requirements) -> list[str]:
        """Descriptions of what this worker lacks for `req` (empty when it can run it)."""
        gone = [f"{r.name!r} ({', '.join(sorted(r.folders))})" for r in req.refs
                if not self.has(r)]
        gone += [f"node type {t!r}" for t in sorted(req.node_types - self.node_types)]
        return gone

    def can_run(self, req: Requirements) -> bool:
        return req.node_types <= self.node_types and all(self.has(r) for r in req.refs)


def merge_indexes(indexes: Iterable[FileIndex]) -> dict[str, frozenset[str]]:
    """The union of several workers' file indexes, folder by folder."""
    merged: dict[str, set[str]] = {}
    for index in indexes:
        for folder, names in index.items():
            merged.setdefault(folder, set()).update(names)
    return {folder: frozenset(names) for folder, names in merged.items()}


def folders_by_name(index: FileIndex) -> dict[str, frozenset[str]]:
    """file name -> the folders it appears in (for matching prompt values)."""
    found: dict[str, set[str]] = {}
    for folder, names in index.items():
        for name in names:
            found.setdefault(name, set()).add(folder)
    return {name: frozenset(folders) for name, folders in found.items()}


def string_inputs(prompt: Mapping) -> Iterator[tuple[str, str, str]]:
    """(node id, input name, value) for every literal string input of an API prompt."""
    for node_id, node in prompt.items():
        inputs = node.get("inputs", {}) if isinstance(node, Mapping) else {}
        for name, value in (inputs.items() if isinstance(inputs, Mapping) else ()):
            if isinstance(value, str):
                yield str(node_id), str(name), value


def requirements_of(prompt: Mapping, known: Mapping[str, frozenset[str]]) -> Requirements:
    """Requirements of a validated API prompt. `known` maps every model file name any
    worker has to its folders (`folders_by_name` of the merged indexes): a literal string
    input naming such a file is a file the prompt loads."""
    refs = tuple(FileRef(node_id, name, value, known[value], _class_type(prompt, node_id))
                 for node_id, name, value in string_inputs(prompt) if value in known)
    types = frozenset(str(n.get("class_type")) for n in prompt.values()
                      if isinstance(n, Mapping) and n.get("class_type"))
    return Requirements(refs, types)


def _class_type(prompt: Mapping, node_id: str) -> str | None:
    node = prompt.get(node_id)
    value = node.get("class_type") if isinstance(node, Mapping) else None
    return str(value) if value is not None else None
