"""scripts/try_example_workflows.py on a folder of self-made example files: a PNG whose
workflow names model files we do not have runs on stand-ins (sizes and steps shrunk), a
WebP of another family is listed out of scope, a workflow with a node we lack stops at
conversion naming it, and the table says so."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from comfy_core.api.templates import load_template_assets
from comfy_core.graph.workflow_convert import workflow_to_prompt
from tests.fixtures.reference import reference_object_info

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "try_example_workflows.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("try_example_workflows", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _node(node_id, kind, widgets, inputs=(), outputs=()):
    return {"id": node_id, "type": kind, "mode": 0, "widgets_values": list(widgets),
            "inputs": [{"name": n, "type": t, "link": link} for n, t, link in inputs],
            "outputs": [{"name": t, "type": t, "links": links} for t, links in outputs]}


def txt2img_workflow(checkpoint: str, extra_node: dict | None = None) -> dict:
    """An SD txt2img graph as the editor saves it, 512x512 and 20 steps, one prompt using an
    embedding, one LoadImage picture nothing else provides."""
    nodes = [
        _node(1, "CheckpointLoaderSimple", [checkpoint], outputs=[("MODEL", [1]), ("CLIP", [2, 3]), ("VAE", [7])]),
        _node(2, "CLIPTextEncode", ["a lighthouse, embedding:my_style"], [("clip", "CLIP", 2)], [("CONDITIONING", [4])]),
        _node(3, "CLIPTextEncode", ["blurry"], [("clip", "CLIP", 3)], [("CONDITIONING", [5])]),
        _node(4, "EmptyLatentImage", [512, 768, 1], outputs=[("LATENT", [6])]),
        _node(5, "KSampler", [7, "fixed", 20, 7.0, "euler", "normal", 1.0],
              [("model", "MODEL", 1), ("positive", "CONDITIONING", 4), ("negative", "CONDITIONING", 5),
               ("latent_image", "LATENT", 6)], [("LATENT", [8])]),
        _node(6, "VAEDecode", [], [("samples", "LATENT", 8), ("vae", "VAE", 7)], [("IMAGE", [9])]),
        _node(7, "SaveImage", ["example"], [("images", "IMAGE", 9)]),
        _node(8, "LoadImage", ["some_photo.png", "image"], outputs=[("IMAGE", []), ("MASK", [])]),
    ]
    links = [[1, 1, 0, 5, 0, "MODEL"], [2, 1, 1, 2, 0, "CLIP"], [3, 1, 1, 3, 0, "CLIP"],
             [4, 2, 0, 5, 1, "CONDITIONING"], [5, 3, 0, 5, 2, "CONDITIONING"], [6, 4, 0, 5, 3, "LATENT"],
             [7, 1, 2, 6, 1, "VAE"], [8, 5, 0, 6, 0, "LATENT"], [9, 6, 0, 7, 0, "IMAGE"]]
    if extra_node is not None:
        nodes.append(extra_node)
    return {"last_node_id": 9, "last_link_id": 9, "nodes": nodes, "links": links, "version": 0.4}


def with_t2i_adapter(workflow: dict) -> dict:
    """The positive prompt through ControlNetApply with a T2I-Adapter and the LoadImage picture."""
    workflow["nodes"] += [
        _node(10, "ControlNetLoader", ["t2iadapter_depth_sd14v1.pth"], outputs=[("CONTROL_NET", [11])]),
        _node(11, "ControlNetApply", [1.0], [("conditioning", "CONDITIONING", 10), ("control_net", "CONTROL_NET", 11),
                                            ("image", "IMAGE", 12)], [("CONDITIONING", [13])])]
    nodes = {n["id"]: n for n in workflow["nodes"]}
    nodes[2]["outputs"][0]["links"], nodes[5]["inputs"][1]["link"] = [10], 13
    nodes[8]["outputs"][0]["links"] = [12]
    workflow["links"] = [link for link in workflow["links"] if link[0] != 4] + [
        [10, 2, 0, 11, 0, "CONDITIONING"], [11, 10, 0, 11, 1, "CONTROL_NET"], [12, 8, 0, 11, 2, "IMAGE"],
        [13, 11, 0, 5, 1, "CONDITIONING"]]
    return workflow


def _png(path: Path, workflow: dict, prompt: dict | None = None) -> None:
    info = PngInfo()
    if prompt is not None:
        info.add_text("prompt", json.dumps(prompt))
    info.add_text("workflow", json.dumps(workflow))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16)).save(path, pnginfo=info)


def test_shrink_keeps_input_minimums_and_scales_step_ranges(script):
    prompt = {"1": {"class_type": "ConditioningSetArea", "inputs": {"width": 384, "height": 512, "x": 256, "y": 0}},
              "2": {"class_type": "KSamplerAdvanced", "inputs": {"steps": 25, "start_at_step": 0, "end_at_step": 20}},
              "3": {"class_type": "KSamplerAdvanced", "inputs": {"steps": 25, "start_at_step": 20,
                                                                 "end_at_step": 10000}},
              "4": {"class_type": "ImageScaleToTotalPixels", "inputs": {"megapixels": 1.0}}}
    script.shrink(prompt, 4, reference_object_info())
    assert prompt["1"]["inputs"] == {"width": 64, "height": 64, "x": 32, "y": 0}  # 48 -> the input's min 64
    assert prompt["2"]["inputs"] == {"steps": 4, "start_at_step": 0, "end_at_step": 3}
    assert prompt["3"]["inputs"] == {"steps": 4, "start_at_step": 3, "end_at_step": 10000}
    assert prompt["4"]["inputs"] == {"megapixels": 0.02}


def saved_prompt(script, workflow: dict) -> dict:
    """The prompt an older editor queued for `workflow`: another seed (its control moved the
    widget after queueing), the upload-button entry, no input added since."""
    prompt = workflow_to_prompt(workflow, reference_object_info())
    prompt["5"]["inputs"]["seed"] = 12345
    prompt["8"]["inputs"]["upload"] = "image"
    return prompt


def test_differences_from_the_saved_prompt(script):
    workflow = txt2img_workflow("v1-5-pruned-emaonly.ckpt")
    ours = workflow_to_prompt(workflow, reference_object_info())
    saved = saved_prompt(script, workflow)
    del saved["5"]["inputs"]["denoise"]  # an input the node gained after the file was saved
    assert script.differences(saved, ours) == []
    saved["5"]["inputs"]["steps"], saved["4"]["class_type"] = 30, "EmptySD3LatentImage"
    assert script.differences(saved, ours) == ["node 4: EmptySD3LatentImage saved, EmptyLatentImage ours",
                                               "#5.steps: '30' saved, '20' ours"]


def test_script_tabulates_runs_scope_and_conversion_errors(script, tmp_path):
    examples = tmp_path / "examples"
    workflow = txt2img_workflow("v1-5-pruned-emaonly.ckpt")
    _png(examples / "basic" / "txt2img.png", workflow, saved_prompt(script, workflow))
    _png(examples / "basic" / "missing_node.png", txt2img_workflow(
        "v1-5-pruned-emaonly.ckpt", _node(9, "NodeFromAPackWeLack", [1])))
    _png(examples / "basic" / "t2i.png", with_t2i_adapter(txt2img_workflow("v1-5-pruned-emaonly.ckpt")))
    exif = Image.Exif()
    exif[0x010F] = "workflow:" + json.dumps(txt2img_workflow("flux1-dev.safetensors"))
    Image.new("RGB", (16, 16)).save(examples / "flux.webp", exif=exif)
    (examples / "notes.json").write_text("[1, 2]")  # no graph: not an example
    trial = script.Trial(tmp_path / "work", examples.resolve(), 2)
    rows = {path.name: trial.try_guarded(path, workflow) for path, workflow in script.find_examples(examples.resolve())}
    assert set(rows) == {"txt2img.png", "t2i.png", "missing_node.png", "flux.webp"}
    ran = rows["txt2img.png"]
    assert (ran.family, ran.converts, ran.as_saved, ran.validates, ran.runs, ran.error) == (
        "sd15", "yes", "same", "yes", "yes", "")
    saved = sorted((tmp_path / "work" / "output").glob("example_*.png"))
    assert [Image.open(p).size for p in saved] == [(64, 96)] * 2, rows  # 512x768 shrunk by 8
    assert (tmp_path / "work" / "models" / "checkpoints" / "v1-5-pruned-emaonly.safetensors").is_file()
    assert (tmp_path / "work" / "models" / "embeddings" / "my_style.safetensors").is_file()
    assert (tmp_path / "work" / "input" / "some_photo.png").is_file()
    adapter = rows["t2i.png"]  # its features reach the UNet: nothing skipped, no warning
    assert (adapter.runs, adapter.error, adapter.warning) == ("yes", "", "")
    missing = rows["missing_node.png"]
    assert (missing.converts, missing.runs) == ("no", "-")
    assert missing.error == "conversion: node #9 has unknown type 'NodeFromAPackWeLack'"
    assert rows["flux.webp"].error == "out of scope: Flux (flux1-dev.safetensors)"
    table = script.render(list(rows.values()))
    assert "| basic/txt2img.png | sd15 | yes | same | yes | yes |  |  |" in table
    assert table.rstrip().endswith("3 SD1.x/SD2.x/SDXL examples tried: 2 convert (1 as the editor that saved them "
                                   "queued them), 2 validate, 2 run")


def test_the_lotus_depth_template_runs_as_an_example(script, tmp_path):
    """A graph that loads only a Lotus UNet (UNETLoader, no checkpoint) is in scope: the
    depth template of the installed template packages, saved as a JSON example."""
    examples = tmp_path / "examples"
    examples.mkdir()
    source = load_template_assets()["image_lotus_depth_v1_1.json"]
    (examples / "lotus_depth.json").write_text(source.read_text())
    trial = script.Trial(tmp_path / "work", examples.resolve(), 2)
    [(path, workflow)] = script.find_examples(examples.resolve())
    row = trial.try_guarded(path, workflow)
    assert (row.family, row.converts, row.validates, row.runs, row.error) == ("lotus", "yes", "yes", "yes", ""), row
    assert (tmp_path / "work" / "models" / "diffusion_models" / "lotus-depth-d-v1-1.safetensors").is_file()
