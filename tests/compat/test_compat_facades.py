"""The facade folder as a whole: every module is listed for start-up (imported before the
first pack or loadable on first use), ComfyUI's namespace packages stay namespace packages
(that the engine-side ones import no torch is an architecture test)."""

import subprocess
import sys
from pathlib import Path

from comfy_core.registry.plugin_env import COMPAT_DIR, ENGINE_FACADES, MODEL_FACADES

ROOT = Path(__file__).resolve().parents[2]
NAMESPACES = ("comfy", "comfy_extras", "comfy_execution", "comfy_api")


def facade_modules() -> set[str]:
    """Public module names under compat/ (private `_x` modules are parts of others)."""
    names = set()
    for path in COMPAT_DIR.rglob("*.py"):
        parts = list(path.relative_to(COMPAT_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not any(p.startswith("_") for p in parts):
            names.add(".".join(parts))
    return names


def test_every_facade_module_is_listed_for_start_up():
    missing = facade_modules() - set(ENGINE_FACADES) - set(MODEL_FACADES)
    assert not missing, f"add to plugin_env's facade lists: {sorted(missing)}"


def test_namespace_packages_have_no_init():
    assert (COMPAT_DIR / "comfy").is_dir()
    for name in NAMESPACES:
        assert not (COMPAT_DIR / name / "__init__.py").exists(), name


def test_every_extras_file_with_builtin_nodes_has_its_facade():
    """A built-in node that ComfyUI ships in comfy_extras/<file> (its RELATIVE_PYTHON_MODULE)
    is importable from there by packs: compat/comfy_extras/<file>.py must exist."""
    code = ("import nodes\n"
            "print('\\n'.join(m for m in nodes.mappings_by_python_module() "
            "if m.startswith('comfy_extras.')))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    missing = [m for m in proc.stdout.split() if not (COMPAT_DIR / (m.replace(".", "/") + ".py")).is_file()]
    assert not missing, (f"add a facade module (see compat/comfy_extras/nodes_latent.py) for "
                         f"{missing}")
