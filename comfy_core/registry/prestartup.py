"""`prestartup_script.py` of custom-node packs (COMPAT-PLUGINS 1.4).

Run before torch is imported and before any pack loads, for the folder packs that the
loader would import (same folders, order and allow-list). Each script runs as a standalone
module: not in sys.modules, no package, no relative imports. It may import `folder_paths`
and `comfy.cli_args` (the facades are bound first). A script that raises is logged and
ignored; start-up carries on.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Any

from comfy_core.registry.custom_nodes import allowed, find_plugins

log = logging.getLogger(__name__)
SCRIPT = "prestartup_script.py"


def run_prestartup_scripts(folders: Any, settings: Any) -> list[tuple[Path, float, bool]]:
    """Run every pack's prestartup script; returns (script, seconds, succeeded) each."""
    dirs = [p for p in folders.get_folder_paths("custom_nodes") if p.is_dir()]
    results = []
    for path in find_plugins(dirs):
        script = path / SCRIPT
        if not path.is_dir() or not script.is_file():
            continue
        if not allowed(path, settings.disable_all_custom_nodes, settings.whitelist_custom_nodes):
            continue
        start = time.perf_counter()
        ok = run_script(script)
        results.append((script, time.perf_counter() - start, ok))
    if results:
        lines = ["Prestartup times for custom nodes:"]
        lines += [f"  {t:6.1f} seconds{'' if ok else ' (PRESTARTUP FAILED)'}: {s.parent}"
                  for s, t, ok in results]
        log.info("\n".join(lines))
    return results


def run_script(script: Path) -> bool:
    """Execute one script as a standalone module; False (logged) when it raised."""
    try:
        spec = importlib.util.spec_from_file_location("prestartup_script", script)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot build an import spec for {script}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except BaseException as exc:  # a script calling sys.exit() must not stop the server
        if isinstance(exc, KeyboardInterrupt):
            raise
        log.exception("Failed to execute startup-script: %s / %s", script, exc)
        return False
    return True
