"""The workflow templates of the `comfyui-workflow-templates` packages, by file name.

Since 0.7 the templates ship as several packages: a core one with a manifest of every
template and its files (workflow JSON, thumbnails, input and output media, provider logos),
a JSON package and media bundles. The meta package exposes `iter_templates()` and
`get_asset_path(template_id, filename)`; the URL of each file is `/templates/<filename>`
(the index files `index.json`, `index.<lang>.json`, `index_logo.json` are templates of their
own in the manifest). Older releases had one `templates/` folder, served as it is.
"""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)
TEMPLATES_MODULE = "comfyui_workflow_templates"


def _manifest_assets(module) -> dict[str, Path]:
    """filename -> path for every template file whose bundle package is installed."""
    assets: dict[str, Path] = {}
    missing = 0
    for entry in module.iter_templates():
        for asset in entry.assets:
            try:
                assets[asset.filename] = Path(module.get_asset_path(entry.template_id,
                                                                     asset.filename))
            except (FileNotFoundError, KeyError):
                missing += 1
    if missing:
        log.warning("%d workflow template files are in the manifest but not installed "
                    "(a media bundle package is missing)", missing)
    return assets


def _legacy_assets(module) -> dict[str, Path]:
    folder = Path(module.__file__).parent / "templates"
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}


def load_template_assets() -> dict[str, Path]:
    """Every installed template file by its URL name; {} without the packages."""
    try:
        module = importlib.import_module(TEMPLATES_MODULE)
    except ImportError:
        log.warning("the workflow templates package (comfyui-workflow-templates) is not "
                    "installed: the template browser will be empty")
        return {}
    if hasattr(module, "iter_templates") and hasattr(module, "get_asset_path"):
        try:
            return _manifest_assets(module)
        except Exception:  # a broken manifest must not stop the server
            log.exception("reading the workflow templates manifest failed")
            return {}
    return _legacy_assets(module)


class TemplateAssets:
    """Template files by name, read once on first use (the manifest lists ~1500 files)."""

    def __init__(self, loader=load_template_assets) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._assets: dict[str, Path] | None = None

    @classmethod
    def installed(cls) -> TemplateAssets:
        return cls()

    @classmethod
    def empty(cls) -> TemplateAssets:
        return cls(loader=dict)

    def assets(self) -> dict[str, Path]:
        """filename -> absolute path (blocking on the first call: run it off the loop)."""
        with self._lock:
            if self._assets is None:
                self._assets = self._loader()
            return self._assets

    def path_for(self, name: str) -> Path | None:
        """The file served as `/templates/<name>`, or None."""
        path = self.assets().get(name)
        return path if path is not None and path.is_file() else None
