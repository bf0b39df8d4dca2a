"""Input files a job reads, sent to its worker with the job (no shared filesystem).

A literal string input that names a file of the server's input folder (or, annotated
`name [output]` / `name [temp]`, of its output or temp folder) travels with the job and
lands under the same name in the worker's scratch folder of that kind.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from comfy_core.cluster.refs import string_inputs
from comfy_core.files.folders import split_annotation
from comfy_core.files.safe import UnsafePathError

log = logging.getLogger(__name__)

MAX_NAME = 1024


def input_files(prompt: dict, folders: Any) -> dict[str, dict[str, bytes]]:
    """{kind: {relative name: bytes}} of the server's files the prompt names."""
    found: dict[str, dict[str, bytes]] = {}
    for _, _, value in string_inputs(prompt):
        if not value or len(value) > MAX_NAME or "\x00" in value:
            continue
        name, kind = split_annotation(value)
        kind = kind or "input"
        if name in found.get(kind, {}) or not _may_be_file(folders, kind, name):
            continue
        try:
            path = folders.annotated_path(value)
        except (UnsafePathError, ValueError, OSError):
            continue
        if not path.is_file():
            continue
        try:
            found.setdefault(kind, {})[name] = path.read_bytes()
        except OSError as exc:
            log.error("cannot read input file %s for a worker: %s", path, exc)
    return found


def _may_be_file(folders: Any, kind: str, name: str) -> bool:
    """One stat: most string inputs (prompt text, sampler names, filename prefixes) name
    no file, and this runs for every job on the dispatch path, so the safe resolution
    (which resolves the folder and the name through every link) is left to the few that
    do. It only narrows: a name that passes still goes through that check."""
    try:
        return os.path.isfile(os.path.join(folders.directory_of(kind), name))
    except (ValueError, TypeError):
        return False
