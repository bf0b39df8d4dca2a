"""Importing one custom-node pack the way ComfyUI does, noting every import that failed.

Module naming (COMPAT-PLUGINS 1.2): the `sys.modules` key and `__name__` of a pack is its
absolute path (a folder's dots replaced by `_x_`, a file without `.py`); folders import from
`__init__.py` as packages so relative imports work; the pack folder is not put on sys.path;
the module stays in `sys.modules` after a failed import, as ComfyUI leaves it.

Import failures are recorded while the pack imports, also those the pack catches: several
packs wrap an import in `try/except ImportError`, print something and fail much later with
a NameError. The recorded failures let the loader name the real cause.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.abc
import importlib.util
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator


@dataclass(frozen=True)
class FailedImport:
    """One import that raised ImportError while a pack was importing."""

    name: str  # the module asked for (ModuleNotFoundError) or the module lacking a symbol
    message: str
    missing_module: bool  # True: no such module; False: a name missing from a module


def module_name_for(path: Path) -> str:
    """ComfyUI's module name for a pack entry: its absolute path."""
    text = str(Path(os.path.abspath(path)))
    if path.is_dir():
        return text.replace(".", "_x_")
    return os.path.splitext(text)[0]


def import_pack(path: Path, module_name: str) -> ModuleType:
    """Import a pack folder (as a package) or file under `module_name`."""
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            module_name, path / "__init__.py", submodule_search_locations=[str(path)])
    else:
        spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot build an import spec for {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def _in_pack(filename: str | None, pack_dir: str) -> bool:
    return bool(filename) and os.path.abspath(filename).startswith(pack_dir)


def _importer_file() -> str | None:
    """The file of the code that started the import being resolved (importlib's own
    frames skipped)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith("<frozen importlib") or f"{os.sep}importlib{os.sep}" in name):
            return name
        frame = frame.f_back
    return None


class _MissingModuleRecorder(importlib.abc.MetaPathFinder):
    """Last finder on sys.meta_path: asked only when no other finder knows a module, so
    each call is a module that does not exist (also through importlib.import_module)."""

    def __init__(self, records: list[FailedImport], thread: int, pack_dir: str) -> None:
        self.records, self.thread, self.pack_dir = records, thread, pack_dir

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if threading.get_ident() == self.thread and _in_pack(_importer_file(), self.pack_dir):
            self.records.append(FailedImport(fullname, f"No module named '{fullname}'", True))
        return None


@contextlib.contextmanager
def recording_failed_imports(pack_dir: Path) -> Iterator[list[FailedImport]]:
    """Record, on this thread, every ImportError raised by an import made by the pack's
    own code (not by the libraries it uses), whether or not the pack catches it."""
    records: list[FailedImport] = []
    thread = threading.get_ident()
    original = builtins.__import__
    root = os.path.abspath(pack_dir)

    def recording_import(name: str, globals: Any = None, locals: Any = None,
                         fromlist: Any = (), level: int = 0) -> Any:
        try:
            return original(name, globals, locals, fromlist, level)
        except ImportError as exc:
            if (threading.get_ident() == thread
                    and _in_pack((globals or {}).get("__file__"), root)):
                records.append(_describe(exc, name))
            raise

    finder = _MissingModuleRecorder(records, thread, root)
    builtins.__import__ = recording_import
    sys.meta_path.append(finder)
    try:
        yield records
    finally:
        builtins.__import__ = original
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)


def _describe(exc: ImportError, asked: str) -> FailedImport:
    missing = isinstance(exc, ModuleNotFoundError)
    return FailedImport(exc.name or asked, str(exc), missing)


def unique_failures(records: list[FailedImport]) -> list[FailedImport]:
    """Each failure once, in the order first seen (the finder and the import statement
    both see a missing module)."""
    seen: set[tuple[str, bool]] = set()
    out = []
    for record in records:
        key = (record.name, record.missing_module)
        if key not in seen:
            seen.add(key)
            out.append(record)
    return out


def reinstate_submodules(packages: tuple[str, ...]) -> list[str]:
    """Put back into sys.modules the submodules of `packages` that a pack deleted; their
    names. One popular pack deletes every module first imported during its own import (to
    hide its private `modules`/`utils`); a facade or engine module it imported first would
    otherwise be imported a second time later, with its own state. The deleted module is
    still its package's attribute, where the import system put it."""
    restored: list[str] = []
    pending = [sys.modules[name] for name in packages if name in sys.modules]
    while pending:
        package = pending.pop()
        prefix = package.__name__ + "."
        for key, value in list(vars(package).items()):
            if not isinstance(value, ModuleType) or value.__name__ != prefix + key:
                continue
            if value.__name__ not in sys.modules:
                sys.modules[value.__name__] = value
                restored.append(value.__name__)
            if sys.modules[value.__name__] is value and hasattr(value, "__path__"):
                pending.append(value)
    return restored
