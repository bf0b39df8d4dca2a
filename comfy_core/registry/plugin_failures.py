"""Naming the real cause when a custom-node pack fails, and what to do about it.

Three kinds are told apart (the server never installs anything itself):
- a Python package the pack needs is not installed: name it (the pip name from the pack's
  requirements.txt when it lists one) and the command that installs the pack's requirements
  with this server's own interpreter;
- a ComfyUI module or name this server does not provide (yet): name it;
- anything else: the exception and the pack's line that raised it.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from comfy_core.registry.plugin_env import RESERVED_NAMES
from comfy_core.registry.plugin_import import FailedImport

# Import names whose pip distribution is named differently.
_PIP_NAMES = {
    "cv2": "opencv-python", "PIL": "pillow", "yaml": "pyyaml", "sklearn": "scikit-learn",
    "skimage": "scikit-image", "bs4": "beautifulsoup4", "git": "gitpython",
    "dateutil": "python-dateutil", "google.protobuf": "protobuf", "fitz": "pymupdf",
    "Crypto": "pycryptodome", "dotenv": "python-dotenv", "magic": "python-magic",
    "jwt": "pyjwt", "serial": "pyserial", "attr": "attrs", "OpenGL": "pyopengl",
    "docx": "python-docx", "pptx": "python-pptx", "win32api": "pywin32",
}


@dataclass(frozen=True)
class Diagnosis:
    """One line saying why a pack failed, and (when known) one saying how to fix it."""

    cause: str
    hint: str | None = None


def requirements_file(pack: Path) -> Path | None:
    path = (pack if pack.is_dir() else pack.parent) / "requirements.txt"
    return path if pack.is_dir() and path.is_file() else None


def install_command(pack: Path, base_dir: Path | None) -> str | None:
    """`<this python> -m pip install -r custom_nodes/<pack>/requirements.txt`, or None."""
    req = requirements_file(pack)
    if req is None:
        return None
    shown = str(req)
    if base_dir is not None:
        try:
            shown = os.path.relpath(req, base_dir) if req.is_relative_to(base_dir) else shown
        except ValueError:
            pass
    return f"{sys.executable} -m pip install -r {shown}"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_name(module: str, pack: Path) -> tuple[str, bool]:
    """(pip distribution, listed in the pack's requirements.txt) for a missing module: the
    matching requirements line, else the known name, else the module name itself."""
    top = module.split(".")[0]
    known = _PIP_NAMES.get(module) or _PIP_NAMES.get(top) or top
    req = requirements_file(pack)
    if req is not None:
        wanted = {_normalize(top), _normalize(known)}
        for line in req.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#")[0])
            if match and _normalize(match.group(1)) in wanted:
                return match.group(1), True
    return known, False


def is_comfy_name(module: str) -> bool:
    return module.split(".")[0] in RESERVED_NAMES


def diagnose_import(failure: FailedImport, pack: Path, base_dir: Path | None) -> Diagnosis:
    """The cause of one failed import."""
    module = failure.name
    if not failure.missing_module:
        if is_comfy_name(module):
            return Diagnosis(f"{failure.message} (the ComfyUI module '{module}' of this "
                             "server does not provide that name yet)")
        return Diagnosis(failure.message)
    if is_comfy_name(module):
        return Diagnosis(f"needs the ComfyUI module '{module}', which this server does not "
                         "provide yet")
    if module.split(".")[0] == _pack_module_root(pack) or module.startswith("."):
        return Diagnosis(f"a module inside the pack is missing: {failure.message}")
    package, listed = pip_name(module, pack)
    command = install_command(pack, base_dir)
    if command and listed:
        hint = f"install the pack's requirements with the server's own Python: {command}"
    else:
        hint = (f"install it with the server's own Python: {sys.executable} -m pip install "
                f"{package}" + (" (the pack's requirements.txt does not list it)"
                                if command else ""))
    return Diagnosis(f"needs the Python package '{package}' (import name "
                     f"'{module.split('.')[0]}'), which is not installed", hint)


def _pack_module_root(pack: Path) -> str:
    return pack.stem if pack.is_file() else pack.name


def root_import_error(exc: BaseException) -> ImportError | None:
    """The first ImportError in the exception's cause/context chain (the exception itself
    included)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ImportError):
            return current
        current = current.__cause__ or current.__context__
    return None


def diagnose_exception(exc: BaseException, pack: Path, base_dir: Path | None,
                       swallowed: list[FailedImport]) -> Diagnosis:
    """Why a pack's import (or a later call into it) raised `exc`."""
    error = root_import_error(exc)
    if error is not None:
        failure = FailedImport(error.name or "", str(error),
                               isinstance(error, ModuleNotFoundError))
        if failure.name:
            return diagnose_import(failure, pack, base_dir)
    if isinstance(exc, NameError) and swallowed:
        first = diagnose_import(swallowed[0], pack, base_dir)
        return Diagnosis(f"{type(exc).__name__}: {exc}; the pack caught an import failure "
                         f"while loading: {first.cause}", first.hint)
    return Diagnosis(f"{type(exc).__name__}: {exc}{_where(exc, pack)}")


def _where(exc: BaseException, pack: Path) -> str:
    """' (at file:line)' for the innermost frame inside the pack, if any."""
    root = os.path.abspath(pack)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.abspath(frame.filename).startswith(root):
            return f" (at {os.path.relpath(frame.filename, root if pack.is_dir() else os.path.dirname(root))}:{frame.lineno})"
    return ""


def diagnose_swallowed(swallowed: list[FailedImport], pack: Path,
                       base_dir: Path | None) -> Diagnosis | None:
    """For a pack that imported: the caught import failures worth telling (missing pip
    packages and ComfyUI names), or None."""
    notes = [diagnose_import(f, pack, base_dir) for f in swallowed]
    notes = [n for n in notes if n.hint is not None or "ComfyUI" in n.cause]
    if not notes:
        return None
    causes = "; ".join(dict.fromkeys(n.cause for n in notes))
    hint = next((n.hint for n in notes if n.hint), None)
    return Diagnosis(f"imported, but caught these import failures: {causes}", hint)
