"""Model-side facades load on first use, not before the first pack (COMPAT-PLUGINS 0.1 as
packs rely on it): a pack that imports only `comfy`, `comfy.utils` and `comfy_extras`
reaches `comfy.sd`, `comfy.model_management`, `comfy.ldm...`, `comfy_extras.nodes_mask` as
attributes, and a pack that deletes every module first imported during its own import does
not leave a facade to be imported twice. Run in a fresh interpreter, so that nothing else
of the test session has imported a facade already."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKS = ("lazy_pack", "forgetful_pack")
LAZY = ("comfy.sd", "comfy.model_management", "comfy.samplers", "comfy_extras.nodes_mask",
        "comfy.ldm.modules.diffusionmodules.openaimodel", "comfy.k_diffusion.sampling")

SCRIPT = f"""
import importlib, sys
from pathlib import Path
import nodes
from comfy_core.files import FolderPaths
from comfy_core.registry import NodeRegistry
from comfy_core.registry.custom_nodes import LoadContext, load_custom_nodes
from comfy_core.registry.plugin_env import MODEL_FACADES, enable_facades, preload_facades
from comfy_core.settings import Settings

base = Path(sys.argv[1])
host = enable_facades(FolderPaths.build(base), Settings(base_directory=base))
host.registry = NodeRegistry()
for module, (classes, titles) in nodes.mappings_by_python_module().items():
    host.registry.register_mappings(classes, titles, module)
preload_facades(model_side=True)
early = [name for name in {LAZY!r} if name in sys.modules]
assert not early, f"imported before any pack: {{early}}"

reports = load_custom_nodes(host.registry, [base / "custom_nodes"], context=LoadContext(host.registry))
assert [(r.name, r.error) for r in reports] == [("forgetful_pack", None), ("lazy_pack", None)]
forgetful, lazy = (sys.modules[r.module_name] for r in reports)

import comfy.samplers
assert forgetful.SAMPLERS_MODULE is comfy.samplers is sys.modules["comfy.samplers"]
assert "euler" in host.registry.get("ForgetfulSamplers").cls.INPUT_TYPES()["required"]["sampler"][0]

reached = lazy.reached()
import comfy.sd, comfy.model_management, comfy_extras.nodes_mask, comfy.k_diffusion.sampling
from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel
assert reached == {{
    "load_checkpoint_guess_config": comfy.sd.load_checkpoint_guess_config,
    "get_torch_device": comfy.model_management.get_torch_device,
    "UNetModel": UNetModel,
    "sample_euler": comfy.k_diffusion.sampling.sample_euler,
    "composite": comfy_extras.nodes_mask.composite,
}}
for name in MODEL_FACADES:  # every facade is reachable as an attribute of its top package
    if not any(part.startswith("_") for part in name.split(".")):
        top, *rest = name.split(".")
        module = importlib.import_module(top)
        for part in rest:
            module = getattr(module, part)
        assert module is sys.modules[name], name

import torch
destination = torch.zeros(1, 6, 8, 3)
source = torch.rand(1, 2, 3, 3)
node = host.registry.get("LazyComposite").cls()
(out,) = getattr(node, node.FUNCTION)(destination, source, 4, 1)
expected = destination.clone()
expected[:, 1:3, 4:7, :] = source
assert torch.equal(out, expected), (out - expected).abs().max()
try:
    comfy.no_such_module
except AttributeError as exc:
    assert "no_such_module" in str(exc)
else:
    raise AssertionError("comfy.no_such_module resolved")
print("ok")
"""


def test_packs_reach_model_side_facades_loaded_on_first_use(tmp_path):
    for name in PACKS:
        shutil.copytree(Path(__file__).with_name(name), tmp_path / "custom_nodes" / name)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-4000:]
