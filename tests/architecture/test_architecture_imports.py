"""Import direction and size rules of DESIGN.md, checked on the source tree."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "comfy_core"
ENGINE = ("settings", "services", "files", "graph", "execution", "jobs", "registry", "api", "runtime",
          "cluster")
MODEL_SIDE = ("memory", "models", "loading", "sampling", "patching", "model_patches", "text", "images")
MAX_LINES = 500


def engine_files() -> list[Path]:
    files = []
    for name in ENGINE:
        if (PKG / f"{name}.py").is_file():
            files.append(PKG / f"{name}.py")
        if (PKG / name).is_dir():
            files += sorted((PKG / name).rglob("*.py"))
    return files


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute names of everything a file imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found.add(mod)
            found.update(f"{mod}.{alias.name}" for alias in node.names)
    return found


def violates(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


def test_engine_half_imports_without_torch():
    modules = sorted({module_name(p) for p in engine_files()})
    assert "comfy_core.graph.validate" in modules and "comfy_core.execution.executor" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    if 'torch' in sys.modules:\n"
        "        sys.exit('torch imported by ' + name)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_plugin_facades_import_torch_only_when_a_model_side_one_is_touched(tmp_path):
    """Switching the plugin interface on (facades on sys.path, the engine-side ones
    imported, the others made loadable on first use) keeps the engine half torch-free; the
    first attribute access to a model-side facade is what imports torch."""
    code = (
        "import importlib, sys\n"
        "from pathlib import Path\n"
        f"for name in {sorted({module_name(p) for p in engine_files()})!r}:\n"
        "    importlib.import_module(name)\n"
        "from comfy_core.files import FolderPaths\n"
        "from comfy_core.registry.plugin_env import ENGINE_FACADES, enable_facades, preload_facades\n"
        "from comfy_core.settings import Settings\n"
        "enable_facades(FolderPaths.build(Path(sys.argv[1])), Settings())\n"
        "for name in ENGINE_FACADES:\n"
        "    importlib.import_module(name)\n"
        "    if 'torch' in sys.modules:\n"
        "        sys.exit('torch imported by ' + name)\n"
        "preload_facades(model_side=False)\n"
        "import comfy, comfy_extras, comfy_api.latest, folder_paths, server, comfy.cli_args\n"
        "assert 'torch' not in sys.modules, 'torch imported before any model-side facade'\n"
        "assert folder_paths.get_filename_list('checkpoints') == []\n"
        "assert comfy.cli_args.args.preview_method.value == Settings().preview_method\n"
        "comfy.model_management.get_torch_device()\n"
        "assert 'torch' in sys.modules and 'comfy.model_management' in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_engine_half_never_imports_model_side_or_nodes():
    forbidden = ("torch", "nodes", "custom_nodes") + tuple(f"comfy_core.{m}" for m in MODEL_SIDE)
    bad = [f"{p.relative_to(ROOT)} imports {name}"
           for p in engine_files() for name in sorted(imported_modules(p)) if violates(name, forbidden)]
    assert not bad, "\n".join(bad)


def test_sampling_and_memory_do_not_import_models():
    bad = []
    for pkg in ("sampling", "memory"):
        for path in sorted((PKG / pkg).rglob("*.py")):
            bad += [f"{path.relative_to(ROOT)} imports {n}" for n in sorted(imported_modules(path))
                    if violates(n, ("comfy_core.models",))]
    assert not bad, "\n".join(bad)


def test_no_python_file_is_too_long():
    long = []
    for base in (PKG, ROOT / "nodes"):
        for path in sorted(base.rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not long, "\n".join(long)


def test_registering_the_builtin_nodes_leaves_the_slow_libraries_unimported():
    """Server start imports the node packages; transformers (seconds to import) and the
    SDE / scheduler helpers wait until a model or sampler needs them."""
    code = (
        "import sys\n"
        "import nodes\n"
        "nodes.mappings_by_python_module()\n"
        "late = [m for m in ('transformers', 'torchsde', 'scipy', 'diffusers') if m in sys.modules]\n"
        "sys.exit('imported at start: ' + ', '.join(late) if late else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:] or proc.stdout[-3000:]


FIRST_IMAGE = """
import sys
from pathlib import Path
import nodes
from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.memory import MemoryManager, MemoryOptions, VramState
from comfy_core.settings import Settings
from comfy_core.tools.make_checkpoint import write_checkpoint

base = Path(sys.argv[1])
write_checkpoint("sd15", "tiny", base / "models" / "checkpoints" / "tiny.safetensors")
memory = MemoryManager(MemoryOptions(vram_state=VramState.DISABLED), "cpu")
app = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base), memory=memory)

def node(name, **inputs):
    cls = nodes.NODE_CLASS_MAPPINGS[name]
    return getattr(cls(), cls.FUNCTION)(**inputs)[0]

with runtime.use_app(app):
    model, clip, vae = nodes.NODE_CLASS_MAPPINGS["CheckpointLoaderSimple"]().load_checkpoint("tiny.safetensors")
    cond = node("CLIPTextEncode", clip=clip, text="a red circle")
    latent = node("EmptyLatentImage", width=64, height=64, batch_size=1)
    latent = node("KSampler", model=model, seed=0, steps=2, cfg=7.0, sampler_name="euler", scheduler="normal",
                  positive=cond, negative=cond, latent_image=latent, denoise=1.0)
    assert node("VAEDecode", vae=vae, samples=latent).shape == (1, 64, 64, 3)
late = [m for m in ("transformers", "torch._dynamo", "diffusers") if m in sys.modules]
sys.exit("imported on the way to the first image: " + ", ".join(late) if late else 0)
"""


def test_first_image_path_imports_no_slow_library(tmp_path):
    """Load, encode, sample, decode: our own CLIP text model, and no meta-device op that
    runs through torch's Python references. transformers or torch._dynamo would each add
    seconds between a cold process and its first image."""
    proc = subprocess.run([sys.executable, "-c", FIRST_IMAGE, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:] or proc.stdout[-3000:]
