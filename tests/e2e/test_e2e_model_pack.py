"""The model-side fixture pack (tests/compat/model_pack) on the real server.py: its nodes
(a GGUF-style patcher subclass loading the checkpoint, an IPAdapter-style attn2
replacement, a FreeU-style output-block patch, a KSAMPLER function) run in queued
workflows on a tiny SD1.5 checkpoint with a LoRA, and their patches reach the images."""

import json
import shutil
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from e2e_server import ServerProcess, prepare_base
from PIL import Image

from tests.fixtures.checkpoints import make_tiny_checkpoint, make_tiny_lora

PACK = Path(__file__).resolve().parents[1] / "compat" / "model_pack"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = prepare_base(tmp_path_factory.mktemp("model_pack"))
    ckpt = make_tiny_checkpoint("sd15", base / "models" / "checkpoints")
    make_tiny_lora(ckpt, base / "models" / "loras" / "tiny_lora.safetensors")
    shutil.copytree(PACK, base / "custom_nodes" / "model_pack")
    proc = ServerProcess(base, "--cpu")
    proc.base = base
    yield proc
    proc.stop()


def run(server, prompt: dict) -> np.ndarray:
    """Queue `prompt`, wait for its history entry, return the saved image's pixels."""
    body = json.dumps({"prompt": prompt, "client_id": uuid.uuid4().hex}).encode()
    request = urllib.request.Request(server.url + "/prompt", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as reply:
        prompt_id = json.loads(reply.read())["prompt_id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{server.url}/history/{prompt_id}") as reply:
            entry = json.loads(reply.read()).get(prompt_id)
        if entry is not None:
            break
        time.sleep(0.2)
    assert entry is not None and entry["status"]["status_str"] == "success", entry and entry["status"]
    saved = entry["outputs"]["9"]["images"][0]
    return np.asarray(Image.open(server.base / "output" / saved["subfolder"] / saved["filename"])).astype(int)


def graph(loader: dict, model: list, sampler: dict, prefix: str) -> dict:
    """Checkpoint -> prompts -> SamplerCustom(sampler node "7") -> decode -> SaveImage "9"."""
    return {
        "1": loader,
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a red circle"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": ""}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "6": {"class_type": "BasicScheduler", "inputs": {"model": model, "scheduler": "karras", "steps": 3,
                                                          "denoise": 1.0}},
        "7": sampler,
        "8": {"class_type": "SamplerCustom", "inputs": {
            "model": model, "add_noise": True, "noise_seed": 5, "cfg": 5.0, "positive": ["2", 0],
            "negative": ["3", 0], "sampler": ["7", 0], "sigmas": ["6", 0], "latent_image": ["4", 0]}},
        "10": {"class_type": "VAEDecode", "inputs": {"samples": ["8", 0], "vae": ["1", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["10", 0], "filename_prefix": prefix}},
    }


def test_pack_nodes_load_patch_and_sample_on_the_server(server):
    with urllib.request.urlopen(server.url + "/object_info") as reply:
        info = json.loads(reply.read())
    assert {"PackAttnScale", "PackFreeU", "PackCheckpointLoader", "PackEulerSampler"} <= set(info)
    builtin = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15_tiny.safetensors"}}
    euler = {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}}
    pack_euler = {"class_type": "PackEulerSampler", "inputs": {"gain": 1.0}}
    plain = run(server, graph(builtin, ["1", 0], euler, "plain"))
    # The pack's own sampling function draws the same image as the built-in euler.
    assert np.abs(run(server, graph(builtin, ["1", 0], pack_euler, "pack_euler")) - plain).max() <= 1
    patched = graph({"class_type": "PackCheckpointLoader", "inputs": {"ckpt_name": "sd15_tiny.safetensors"}},
                    ["13", 0], pack_euler, "patched")
    patched.update({
        "11": {"class_type": "PackAttnScale", "inputs": {"model": ["1", 0], "block": "input", "number": 1,
                                                          "scale": 2.0}},
        "12": {"class_type": "PackFreeU", "inputs": {"model": ["11", 0], "channels": 64, "b": 1.3, "s": 0.7}},
        "13": {"class_type": "LoraLoaderModelOnly", "inputs": {"model": ["12", 0], "lora_name": "tiny_lora.safetensors",
                                                               "strength_model": 0.8}},
    })
    assert np.abs(run(server, patched) - plain).mean() > 1  # the patches reached the UNet
