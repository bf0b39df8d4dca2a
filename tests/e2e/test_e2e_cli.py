"""`python -m comfy_core run` on UI workflow files (ours, and one saved by ComfyUI's own
frontend with V3 dynamic inputs) and on a bad prompt."""

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from comfy_core.images.latent_files import load_latent

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = {
    "last_node_id": 3, "last_link_id": 1, "version": 0.4,
    "nodes": [
        {"id": 1, "type": "EmptyImage", "mode": 0, "inputs": [],
         "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [1]}],
         "widgets_values": [8, 4, 1, 0]},
        {"id": 2, "type": "SaveImage", "mode": 0,
         "inputs": [{"name": "images", "type": "IMAGE", "link": 1}], "outputs": [],
         "widgets_values": ["cli"]},
        {"id": 3, "type": "Note", "mode": 0, "widgets_values": ["hello"]},
    ],
    "links": [[1, 1, 0, 2, 0, "IMAGE"]],
}


def run_cli(path: Path, base: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "comfy_core", "run", str(path),
                           "--base-directory", str(base), "--output-directory",
                           str(base / "out")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_runs_ui_workflow(tmp_path):
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(WORKFLOW))
    done = run_cli(wf, tmp_path)
    assert done.returncode == 0, done.stderr
    out = Path(done.stdout.strip().splitlines()[-1])
    assert out == tmp_path / "out" / "cli_00001_.png"
    img = Image.open(out)
    assert img.size == (8, 4) and json.loads(img.text["workflow"]) == WORKFLOW
    assert json.loads(img.text["prompt"])["2"]["class_type"] == "SaveImage"


def test_cli_runs_a_frontend_workflow_with_v3_dynamic_inputs(tmp_path):
    """The workflow ComfyUI's frontend saved with growing lists (BatchImagesNode,
    BatchMasksNode, BatchLatentsNode), a switch and dynamic-combo resizes
    (tests/fixtures/frontend/v3_dynamic_inputs.json) runs headless to the images it asks for."""
    fixture = json.loads((ROOT / "tests" / "fixtures" / "frontend" / "v3_dynamic_inputs.json").read_text())
    wf = tmp_path / "v3.json"
    wf.write_text(json.dumps(fixture["workflow"]))
    done = run_cli(wf, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    paths = [Path(line) for line in done.stdout.strip().splitlines()]
    sizes = sorted(Image.open(p).size for p in paths if p.suffix == ".png")
    # switch on: 'scale dimensions' 40x24 of the 4 batched images; masks matched to 32x32;
    # 'scale by multiplier' 0.5 of 32x32; 'scale longer dimension' to 20
    assert sizes == sorted([(40, 24)] * 4 + [(32, 32)] * 2 + [(16, 16)] * 2 + [(20, 20)] * 2)
    (latent,) = [p for p in paths if p.suffix == ".latent"]
    assert latent == tmp_path / "out" / "latents" / "v3_00001_.latent"
    # 64x64 and two 32x32 latents, the later ones scaled to the first's size
    assert tuple(load_latent(latent)["samples"].shape) == (3, 4, 8, 8)


def test_cli_runs_the_workflow_a_picture_carries(tmp_path):
    """A PNG with a workflow chunk runs that workflow (not the prompt chunk beside it, an
    invalid one here), as the editor opens it; a picture without graphs is a structured error."""
    info = PngInfo()
    info.add_text("prompt", json.dumps({"1": {"class_type": "EmptyImage", "inputs": {}}}))
    info.add_text("workflow", json.dumps(WORKFLOW))
    Image.new("RGB", (4, 4)).save(tmp_path / "shared.png", pnginfo=info)
    done = run_cli(tmp_path / "shared.png", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert Path(done.stdout.strip().splitlines()[-1]) == tmp_path / "out" / "cli_00001_.png"
    Image.new("RGB", (4, 4)).save(tmp_path / "plain.png")
    done = run_cli(tmp_path / "plain.png", tmp_path)
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "invalid_workflow" and "plain.png carries no workflow or prompt" in error["details"]


def test_cli_reports_structured_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"1": {"class_type": "Nope", "inputs": {}}}))
    done = run_cli(bad, tmp_path)
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["type"] == "invalid_prompt"
