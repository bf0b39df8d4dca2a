"""ComfyUI-Manager (the `comfyui-manager` pip package) inside the server, with
--enable-manager, at the points ComfyUI 0.8.0 calls it: `prestartup()` with the packs'
prestartup scripts, `start()` once PromptServer exists and before the packs load (it adds
its routes to `PromptServer.instance.routes` and its web folder), and `should_be_disabled`
for each pack entry (an old ComfyUI-Manager copy in custom_nodes is skipped). The server
itself never installs anything; the manager installs only when its user asks it to.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)
PACKAGE = "comfyui_manager"


def load_manager(settings: Any) -> Any | None:
    """The imported manager package (its prestartup done), or None when not enabled or
    not installed (logged with the install command)."""
    if not getattr(settings, "enable_manager", False):
        return None
    try:
        manager = importlib.import_module(PACKAGE)
    except ImportError as exc:
        log.warning("--enable-manager: ComfyUI-Manager is not available (%s); install it with "
                    "%s -m pip install comfyui-manager", exc, sys.executable)
        return None
    _call(manager, "prestartup")
    return manager


def start_manager(manager: Any | None, settings: Any) -> None:
    """Its routes and start-up work (unless --disable-manager-ui)."""
    if manager is not None and not getattr(settings, "disable_manager_ui", False):
        _call(manager, "start")


def skip_rule(manager: Any | None) -> Callable[[Path], bool] | None:
    """The manager's rule for pack entries the loader must skip, or None."""
    rule = getattr(manager, "should_be_disabled", None)
    if rule is None:
        return None

    def skip(path: Path) -> bool:
        try:
            return bool(rule(str(path)))
        except Exception:
            log.exception("ComfyUI-Manager's should_be_disabled failed for %s", path)
            return False

    return skip


def _call(manager: Any, name: str) -> None:
    try:
        getattr(manager, name)()
    except Exception:  # the manager failing must not stop the server
        log.exception("ComfyUI-Manager's %s() failed; the server runs without it", name)
