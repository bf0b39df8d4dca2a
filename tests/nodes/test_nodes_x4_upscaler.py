"""The SD 2.x x4 upscaler end to end through the executor on a tiny generated checkpoint:
CheckpointLoaderSimple -> SD_4XUpscale_Conditioning -> KSampler -> VAEDecode gives an image
4x the input; the upscaler's conditioning on a plain SD1.5 checkpoint fails at KSampler
naming what it needs; text features of the wrong width fail naming both widths."""

from __future__ import annotations

import threading

import pytest
import torch
from PIL import Image

import nodes
from comfy_core import runtime
from comfy_core.execution import Executor, make_cache
from comfy_core.files import FolderPaths
from comfy_core.graph import validate_prompt
from comfy_core.registry import NodeRegistry
from comfy_core.settings import Settings
from comfy_core.tools.make_x4_upscaler import write_x4_upscaler
from tests.fixtures.checkpoints import make_tiny_checkpoint


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("x4_nodes")
    ckpts = base / "models" / "checkpoints"
    write_x4_upscaler(ckpts / "x4_tiny.safetensors", seed=4)
    make_tiny_checkpoint("sd15", ckpts)
    folders = FolderPaths.build(base)
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir):
        d.mkdir(parents=True, exist_ok=True)
    with runtime.use_app(runtime.AppContext(folders=folders, settings=Settings(base_directory=base))) as ctx:
        yield ctx


def _execute(prompt: dict):
    registry = NodeRegistry()
    for module, (classes, titles) in nodes.mappings_by_python_module().items():
        registry.register_mappings(classes, titles, module)
    checked = validate_prompt(registry, prompt)
    assert checked.ok, checked
    return Executor(registry, make_cache("classic")).run(checked.prompt, "p", {}, checked.outputs,
                                                         lambda e: None, threading.Event())


def _workflow(ckpt_name: str, width: int = 24, height: int = 16) -> dict:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt_name}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a sharp photo"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "blurry"}},
        "4": {"class_type": "EmptyImage", "inputs": {"width": width, "height": height, "batch_size": 1,
                                                     "color": 0x336699}},
        "5": {"class_type": "SD_4XUpscale_Conditioning", "inputs": {
            "images": ["4", 0], "positive": ["2", 0], "negative": ["3", 0], "scale_ratio": 4.0,
            "noise_augmentation": 0.2}},
        "6": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "seed": 7, "steps": 2, "cfg": 4.0, "sampler_name": "euler", "scheduler": "normal",
            "positive": ["5", 0], "negative": ["5", 1], "latent_image": ["5", 2], "denoise": 1.0}},
        "7": {"class_type": "VAEDecode", "inputs": {"samples": ["6", 0], "vae": ["1", 2]}},
        "8": {"class_type": "PreviewImage", "inputs": {"images": ["7", 0]}},
    }


def test_workflow_upscales_4x(app):
    result = _execute(_workflow("x4_tiny.safetensors", width=24, height=16))
    assert result.status_str == "success", result.error
    [saved] = result.outputs["8"]["images"]
    with Image.open(app.folders.temp_dir / saved["subfolder"] / saved["filename"]) as image:
        assert image.size == (96, 64)


def test_upscale_conditioning_on_a_plain_checkpoint_names_what_it_needs(app):
    result = _execute(_workflow("sd15_tiny.safetensors"))
    assert result.status_str == "error" and result.error["node_id"] == "6"
    message = result.error["exception_message"]
    assert "SD 2.x x4 upscaler" in message and "7 input channels" in message and "sd15" in message


def test_text_features_of_another_width_are_named(app):
    model = nodes.NODE_CLASS_MAPPINGS["CheckpointLoaderSimple"]().load_checkpoint("x4_tiny.safetensors")[0]
    base = model.model
    x = torch.zeros(1, 4, 4, 4)
    with pytest.raises(ValueError, match=r"text features 32 wide, got 768"):
        base.apply_model(x, torch.tensor([1.0]), c_concat=torch.zeros(1, 3, 4, 4),
                         c_crossattn=torch.zeros(1, 77, 768), y=torch.tensor([0]))


def test_packs_see_comfyuis_class_and_latent_format(app):
    from comfy_core.registry.plugin_env import put_facades_on_path

    put_facades_on_path()
    import comfy.latent_formats
    import comfy.model_base

    model = nodes.NODE_CLASS_MAPPINGS["CheckpointLoaderSimple"]().load_checkpoint("x4_tiny.safetensors")[0]
    assert isinstance(model.model, comfy.model_base.SD_X4Upscaler)
    assert isinstance(model.model.latent_format, comfy.latent_formats.SD_X4)
    assert comfy.latent_formats.SD_X4().scale_factor == 0.08333
    sd15 = nodes.NODE_CLASS_MAPPINGS["CheckpointLoaderSimple"]().load_checkpoint("sd15_tiny.safetensors")[0]
    assert not isinstance(sd15.model, comfy.model_base.SD_X4Upscaler)
