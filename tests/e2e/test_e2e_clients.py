"""Real ComfyUI clients against the real server (tiny SD1.5 checkpoint, 64x64, 2 steps).

- The steps of ComfyUI's own API examples (script_examples/basic_api_example.py and
  websockets_api_example.py), done here in our own words with the packages they use
  (urllib, websocket-client): queue the default graph as an API prompt, wait for the
  `executing` message with node null, read /history and fetch the images from /view.
- The PyPI clients comfy-api-simplified (which takes any binary websocket frame for an
  output image, so it needs previews off by default, as in ComfyUI) and ComfyScript.
Every client must get the PNG that SaveImage wrote.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from e2e_server import ROOT, ServerProcess, prepare_base
from PIL import Image

CKPT = "sd15_tiny.safetensors"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.fixtures.checkpoints import make_tiny_checkpoint

    base = prepare_base(tmp_path_factory.mktemp("clients"))
    make_tiny_checkpoint("sd15", base / "models" / "checkpoints")
    proc = ServerProcess(base)
    yield proc
    proc.stop()


def txt2img(prefix: str, titles: bool = False) -> dict:
    """ComfyUI's default graph as an API prompt (the examples' prompt_text), sized down."""
    def node(cls: str, title: str, **inputs) -> dict:
        out = {"class_type": cls, "inputs": inputs}
        if titles:
            out["_meta"] = {"title": title}
        return out

    return {
        "3": node("KSampler", "KSampler", seed=8566257, steps=2, cfg=8, sampler_name="euler",
                  scheduler="normal", denoise=1, model=["4", 0], positive=["6", 0],
                  negative=["7", 0], latent_image=["5", 0]),
        "4": node("CheckpointLoaderSimple", "Load Checkpoint", ckpt_name=CKPT),
        "5": node("EmptyLatentImage", "Empty Latent Image", width=64, height=64, batch_size=1),
        "6": node("CLIPTextEncode", "Positive", text="masterpiece best quality girl",
                  clip=["4", 1]),
        "7": node("CLIPTextEncode", "Negative", text="bad hands", clip=["4", 1]),
        "8": node("VAEDecode", "VAE Decode", samples=["3", 0], vae=["4", 2]),
        "9": node("SaveImage", "Save Image", filename_prefix=prefix, images=["8", 0]),
    }


def post_prompt(url: str, body: dict) -> dict:
    """As the examples do: JSON bytes posted with urllib (no Content-Type of its own)."""
    req = urllib.request.Request(f"{url}/prompt", data=json.dumps(body).encode("utf-8"))
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def history(url: str, prompt_id: str) -> dict:
    with urllib.request.urlopen(f"{url}/history/{prompt_id}", timeout=30) as resp:
        return json.loads(resp.read())


def view(url: str, image: dict) -> bytes:
    query = urllib.parse.urlencode({k: image[k] for k in ("filename", "subfolder", "type")})
    with urllib.request.urlopen(f"{url}/view?{query}", timeout=30) as resp:
        return resp.read()


def assert_saved_png(data: bytes, prefix: str) -> None:
    assert data.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (64, 64) and image.format == "PNG"
        assert json.loads(image.text["prompt"])["9"]["inputs"]["filename_prefix"] == prefix


def test_basic_api_example_steps(server):
    prompt = txt2img("basic")
    prompt["6"]["inputs"]["text"] = "masterpiece best quality man"
    prompt["3"]["inputs"]["seed"] = 5
    prompt_id = post_prompt(server.url, {"prompt": prompt})["prompt_id"]
    deadline = time.monotonic() + 120
    while prompt_id not in (record := history(server.url, prompt_id)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    images = record[prompt_id]["outputs"]["9"]["images"]
    assert images == [{"filename": "basic_00001_.png", "subfolder": "", "type": "output"}]
    assert_saved_png(view(server.url, images[0]), "basic")


def test_websockets_api_example_steps(server):
    import websocket  # websocket-client, the package ComfyUI's example uses

    client_id = str(uuid.uuid4())
    ws = websocket.WebSocket()
    ws.connect(f"ws://127.0.0.1:{server.port}/ws?clientId={client_id}", timeout=120)
    try:
        prompt_id = post_prompt(server.url, {"prompt": txt2img("wsapi"),
                                             "client_id": client_id})["prompt_id"]
        binary = 0
        while True:
            out = ws.recv()
            if isinstance(out, str):
                message = json.loads(out)
                if message["type"] == "executing" and message["data"]["node"] is None \
                        and message["data"]["prompt_id"] == prompt_id:
                    break
            else:
                binary += 1
    finally:
        ws.close()
    assert binary == 0  # no live previews unless the prompt asks (ComfyUI's default)
    outputs = history(server.url, prompt_id)[prompt_id]["outputs"]
    fetched = [view(server.url, image) for image in outputs["9"]["images"]]
    assert len(fetched) == 1
    assert_saved_png(fetched[0], "wsapi")


def test_comfy_api_simplified_gets_the_saved_png(server):
    from comfy_api_simplified import ComfyApiWrapper, ComfyWorkflowWrapper

    workflow = ComfyWorkflowWrapper(txt2img("simplified", titles=True))
    workflow.set_node_param("Positive", "text", "a lighthouse")
    api = ComfyApiWrapper(server.url)
    results = api.queue_and_wait_images(workflow, "Save Image")
    assert list(results) == ["simplified_00001_.png"]
    assert_saved_png(results["simplified_00001_.png"], "simplified")


def test_comfyscript_gets_the_saved_image(server):
    script = Path(__file__).parent / "clients" / "comfy_script_client.py"
    done = subprocess.run([sys.executable, str(script), server.url + "/", CKPT], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["size"] == [64, 64]
    [image] = result["files"]
    assert image["type"] == "output" and image["filename"].startswith("comfyscript_")
    assert view(server.url, image).startswith(PNG_MAGIC)
