"""Path helpers that keep user-supplied names inside a base directory.

Every name that arrives over HTTP (uploads, /view, annotated LoadImage values) goes through
`check_name` and `contained_join`, which resolve symlinks before the containment test so a
link inside input/ pointing at /etc cannot be followed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# Names we accept for a single path component: no separators, no control characters.
_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]')
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                     *(f"lpt{i}" for i in range(1, 10))}


class UnsafePathError(ValueError):
    """A user-supplied name would leave its base directory or is not a plain file name."""


def check_name(name: str) -> str:
    """Return `name` if it is a safe single file name, else raise UnsafePathError."""
    if not name or name in (".", ".."):
        raise UnsafePathError(f"invalid file name {name!r}")
    if _BAD_CHARS.search(name) or ".." in name:
        raise UnsafePathError(f"file name {name!r} contains a separator, '..' or a control "
                              "character")
    if name.startswith((" ", "-")) or name.endswith((" ", ".")):
        raise UnsafePathError(f"file name {name!r} starts or ends with a space, '-' or '.'")
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        raise UnsafePathError(f"file name {name!r} is a reserved device name")
    return name


def check_subfolder(subfolder: str) -> str:
    """Return a normalized relative subfolder ('' allowed) or raise UnsafePathError."""
    if not subfolder:
        return ""
    if "\x00" in subfolder or os.path.isabs(subfolder) or subfolder.startswith(("/", "\\")):
        raise UnsafePathError(f"subfolder {subfolder!r} must be a relative path")
    parts = [p for p in re.split(r"[\\/]+", subfolder) if p not in ("", ".")]
    for part in parts:
        if part == ".." or _BAD_CHARS.search(part):
            raise UnsafePathError(f"subfolder {subfolder!r} leaves its base folder or has odd "
                                  "characters")
    return os.path.join(*parts) if parts else ""


def is_within(base: Path, candidate: Path) -> bool:
    """Whether `candidate`, with symlinks resolved, lies inside `base` (also resolved)."""
    base_r = base.resolve()
    cand_r = candidate.resolve()
    return cand_r == base_r or base_r in cand_r.parents


def contained_join(base: Path, *parts: str) -> Path:
    """Join `parts` onto `base`; raise UnsafePathError if the result escapes `base`."""
    path = base.joinpath(*parts)
    if not is_within(base, path):
        raise UnsafePathError(f"path {os.path.join(*parts)!r} leaves its base folder")
    return path
