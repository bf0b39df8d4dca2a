"""txt2img end to end on the real server.py with a tiny sd15 checkpoint: the canonical API
prompt (COMPAT 3.1) and the same graph as a UI workflow converted with the server's own
/object_info, each run to `executing: null` over the websocket, the PNG fetched via /view
with its prompt and workflow chunks read back."""

from __future__ import annotations

import io
import json

import aiohttp
import pytest
from e2e_server import ServerProcess, next_json
from PIL import Image

from comfy_core.graph.workflow_convert import workflow_to_prompt
from tests.fixtures.checkpoints import make_tiny_checkpoint

CKPT = "sd15_tiny.safetensors"


def api_prompt(seed: int, prefix: str) -> dict:
    """COMPAT 3.1's canonical txt2img graph at 64x64 and 2 steps."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a photo of a cat", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": 2, "cfg": 8, "sampler_name": "euler", "scheduler": "normal", "denoise": 1,
            "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": prefix, "images": ["8", 0]}},
    }


def _node(node_id, kind, widgets, inputs=(), outputs=()):
    return {"id": node_id, "type": kind, "mode": 0, "widgets_values": list(widgets),
            "inputs": [{"name": n, "type": t, "link": link} for n, t, link in inputs],
            "outputs": [{"name": t, "type": t, "links": links} for t, links in outputs]}


def ui_workflow(seed: int, prefix: str) -> dict:
    """The same graph as the editor saves it (widgets_values incl. control_after_generate)."""
    links = [[1, 4, 0, 3, 0, "MODEL"], [2, 4, 1, 6, 0, "CLIP"], [3, 4, 1, 7, 0, "CLIP"],
             [4, 6, 0, 3, 1, "CONDITIONING"], [5, 7, 0, 3, 2, "CONDITIONING"], [6, 5, 0, 3, 3, "LATENT"],
             [7, 3, 0, 8, 0, "LATENT"], [8, 4, 2, 8, 1, "VAE"], [9, 8, 0, 9, 0, "IMAGE"]]
    nodes = [
        _node(4, "CheckpointLoaderSimple", [CKPT], outputs=[("MODEL", [1]), ("CLIP", [2, 3]), ("VAE", [8])]),
        _node(5, "EmptyLatentImage", [64, 64, 1], outputs=[("LATENT", [6])]),
        _node(6, "CLIPTextEncode", ["a photo of a cat"], [("clip", "CLIP", 2)], [("CONDITIONING", [4])]),
        _node(7, "CLIPTextEncode", ["blurry"], [("clip", "CLIP", 3)], [("CONDITIONING", [5])]),
        _node(3, "KSampler", [seed, "fixed", 2, 8, "euler", "normal", 1],
              [("model", "MODEL", 1), ("positive", "CONDITIONING", 4), ("negative", "CONDITIONING", 5),
               ("latent_image", "LATENT", 6)], [("LATENT", [7])]),
        _node(8, "VAEDecode", [], [("samples", "LATENT", 7), ("vae", "VAE", 8)], [("IMAGE", [9])]),
        _node(9, "SaveImage", [prefix], [("images", "IMAGE", 9)]),
    ]
    return {"last_node_id": 9, "last_link_id": 9, "nodes": nodes, "links": links, "version": 0.4}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("txt2img")
    make_tiny_checkpoint("sd15", base / "models" / "checkpoints")
    proc = ServerProcess(base)
    yield proc
    proc.stop()


async def _run(http, ws, prompt: dict, workflow: dict) -> tuple[str, list[dict]]:
    # Previews are off unless asked for (ComfyUI's default): this prompt asks, as the
    # editors do from their preview setting.
    resp = await http.post("/prompt", json={"prompt": prompt, "client_id": "t2i",
                                            "extra_data": {"extra_pnginfo": {"workflow": workflow},
                                                           "preview_method": "auto"}})
    assert resp.status == 200, await resp.text()
    pid = (await resp.json())["prompt_id"]
    messages, previews = [], []
    while True:
        msg = await next_json(ws, binary=previews)
        messages.append(msg)
        assert msg["type"] != "execution_error", msg
        if msg["type"] == "executing" and msg["data"]["node"] is None and msg["data"]["prompt_id"] == pid:
            # Live previews as asked: type-1 frames holding a JPEG.
            assert previews and all(f[:8] == b"\0\0\0\1\0\0\0\1" for f in previews)
            return pid, messages


async def _png(http, pid: str) -> Image.Image:
    history = await (await http.get(f"/history/{pid}")).json()
    image = history[pid]["outputs"]["9"]["images"][0]
    assert image["type"] == "output"
    data = await (await http.get("/view", params=image)).read()
    return Image.open(io.BytesIO(data))


async def test_api_prompt_and_converted_workflow(server):
    async with aiohttp.ClientSession(server.url) as http:
        ws = await http.ws_connect("/ws?clientId=t2i")
        api, workflow = api_prompt(1, "t2i_api"), ui_workflow(2, "t2i_ui")
        pid, messages = await _run(http, ws, api, workflow)
        steps = [m["data"] for m in messages if m["type"] == "progress"]
        assert [(s["value"], s["max"]) for s in steps if s["node"] == "3"] == [(1, 2), (2, 2)]
        img = await _png(http, pid)
        assert img.size == (64, 64)
        assert json.loads(img.text["prompt"]) == api
        assert json.loads(img.text["workflow"]) == workflow

        info = await (await http.get("/object_info")).json()
        converted = workflow_to_prompt(workflow, info)
        assert {k: v["inputs"] for k, v in converted.items()} == \
            {k: v["inputs"] for k, v in api_prompt(2, "t2i_ui").items()}
        pid2, _ = await _run(http, ws, converted, workflow)
        img2 = await _png(http, pid2)
        assert img2.size == (64, 64)
        assert json.loads(img2.text["prompt"]) == converted
        assert json.loads(img2.text["workflow"]) == workflow
        assert img2.tobytes() != img.tobytes()  # another seed, another image
        await ws.close()
