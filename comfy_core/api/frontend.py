"""Which front end the server serves, and the front-end packages it serves beside it.

The default UI is ComfyUI's own frontend, the PyPI package `comfyui-frontend-package`
(installed from requirements.txt, never copied into this repository). `--front-end-root DIR`
serves any other built frontend folder; `--front-end-root web` serves this project's own
editor. The workflow templates (`comfyui-workflow-templates` and its split packages) and
the node documentation (`comfyui-embedded-docs`) are found the same way: by package, at
start, without importing anything heavy.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path

from comfy_core.api.templates import TemplateAssets

log = logging.getLogger(__name__)
FRONTEND_PACKAGE = "comfyui_frontend_package"
DOCS_PACKAGE = "comfyui_embedded_docs"
# The URL name of the extension the server adds to every frontend but its own editor, and
# its entry script inside the editor's folder (the start-up graph).
BUILTIN_EXTENSION = "comfy_core"
BUILTIN_EXTENSION_ENTRY = "comfy_core_extension/startup_graph.js"


class FrontendRootError(ValueError):
    """`--front-end-root` names no folder, or one without an index.html."""


def package_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def distribution_version(name: str) -> str | None:
    """The installed version of a distribution (e.g. 'comfyui-frontend-package'), or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def official_frontend_root() -> Path | None:
    """The built official frontend inside its package, or None when not installed."""
    root = package_dir(FRONTEND_PACKAGE)
    static = root / "static" if root is not None else None
    return static if static is not None and (static / "index.html").is_file() else None


def embedded_docs_root() -> Path | None:
    """The per-node markdown documentation (`<Node>/<lang>.md`), or None."""
    root = package_dir(DOCS_PACKAGE)
    docs = root / "docs" if root is not None else None
    return docs if docs is not None and docs.is_dir() else None


def pinned_versions(requirements: Path) -> dict[str, str]:
    """`name==version` pins of a requirements file (names lower-case, '_' as '-')."""
    pins: dict[str, str] = {}
    try:
        lines = requirements.read_text(encoding="utf-8").splitlines()
    except OSError:
        return pins
    for line in lines:
        spec = line.split("#", 1)[0].strip()
        if "==" in spec and not spec.startswith("-"):
            name, version = spec.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def resolve_front_end_root(flag: Path | None, editor_root: Path) -> Path:
    """The folder to serve at `/`.

    Without the flag: the official frontend package, or our editor with a warning when the
    package is missing (never a blank page). With it: the named folder, looked up as given
    and then beside our editor (so `--front-end-root web` works from any directory); it
    must exist and hold an index.html.

    Raises FrontendRootError naming the folder and what is wrong."""
    if flag is None:
        official = official_frontend_root()
        if official is not None:
            return official
        log.warning("the frontend package (%s) is not installed: serving this project's own "
                    "editor from %s instead; run 'bash scripts/setup.sh' to install it",
                    FRONTEND_PACKAGE.replace("_", "-"), editor_root)
        return editor_root
    candidates = [flag] if flag.is_absolute() else [Path.cwd() / flag, editor_root.parent / flag]
    found = next((c for c in candidates if c.is_dir()), None)
    if found is None:
        raise FrontendRootError(f"--front-end-root {flag}: no such folder (looked in "
                                f"{', '.join(str(c) for c in candidates)})")
    if not (found / "index.html").is_file():
        raise FrontendRootError(f"--front-end-root {flag}: {found.resolve()} has no index.html; "
                                "give the folder of a built frontend (the one holding "
                                "index.html), or 'web' for this project's own editor")
    return found.resolve()


@dataclass(frozen=True)
class Frontend:
    """The served web root and the frontend packages found beside it."""

    web_root: Path | None
    editor_root: Path | None = None
    docs_root: Path | None = None
    templates: TemplateAssets = field(default_factory=TemplateAssets.empty)
    required: dict[str, str] = field(default_factory=dict)  # pinned package versions

    @classmethod
    def discover(cls, web_root: Path | None, editor_root: Path | None = None,
                 requirements: Path | None = None) -> Frontend:
        """Serve `web_root`, with whatever templates and docs packages are installed;
        `requirements` (requirements.txt) gives the versions the project pins."""
        return cls(web_root=web_root, editor_root=editor_root, docs_root=embedded_docs_root(),
                   templates=TemplateAssets.installed(),
                   required=pinned_versions(requirements) if requirements else {})

    @property
    def serves_editor(self) -> bool:
        """Whether `/` is this project's own editor (which has its own start-up graph)."""
        if self.web_root is None or self.editor_root is None:
            return False
        return Path(self.web_root).resolve() == Path(self.editor_root).resolve()

    @property
    def builtin_extension_dir(self) -> Path | None:
        """The folder served as `/extensions/comfy_core/` to frontends other than our
        editor: the editor's folder, so the extension imports the editor's pure modules
        (one default workflow for both UIs). Only its entry script is listed."""
        if self.editor_root is None or self.serves_editor:
            return None
        entry = Path(self.editor_root) / BUILTIN_EXTENSION_ENTRY
        return Path(self.editor_root) if entry.is_file() else None

    def builtin_extension_urls(self) -> list[str]:
        """What `/extensions` lists for the server's own extension (nothing with our editor)."""
        if self.builtin_extension_dir is None:
            return []
        return [f"/extensions/{BUILTIN_EXTENSION}/{BUILTIN_EXTENSION_ENTRY}"]

    def describe(self) -> str:
        """One line for the start-up log."""
        if self.web_root is None:
            return "no web root"
        if self.serves_editor:
            return f"this project's editor ({self.web_root})"
        version = distribution_version("comfyui-frontend-package")
        official = official_frontend_root()
        if official is not None and Path(self.web_root).resolve() == official.resolve():
            return f"ComfyUI frontend {version} ({self.web_root})"
        return f"the frontend in {self.web_root}"
