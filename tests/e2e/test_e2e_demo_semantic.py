"""The committed demo model draws what the prompt says, through the real server: tokenizer,
text encoder, cross-attention, CFG, sampler and VAE all have to work for the pictures to
match their prompts. Each picture is measured with plain pixel statistics: background =
median border colour, foreground = pixels far from it, colours = nearest palette entry,
shape = how much of its bounding box the foreground fills."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from e2e_server import ROOT, ServerProcess
from PIL import Image
from scipy import ndimage

from comfy_core.tools.demo.scenes import PALETTE, Scene, draw

CKPT = Path("demo") / "shapes-sd1-tiny.safetensors"
CKPT_FILE = ROOT / "models" / "checkpoints" / CKPT
BATCH = 4
STEPS = 20


@dataclass(frozen=True)
class Reading:
    background: str
    colour: str | None
    shape: str | None
    count: int


def nearest_colour(rgb: np.ndarray) -> str:
    names = list(PALETTE)
    table = np.array([PALETTE[n] for n in names], dtype=np.float32)
    return names[int(np.argmin(((table - rgb) ** 2).sum(axis=1)))]


def shape_from_fill(fill: float) -> str:
    """Area over bounding-box area: square ~1, circle pi/4, apex-up triangle ~1/2."""
    if fill > 0.88:
        return "square"
    return "circle" if fill > 0.64 else "triangle"


def read_picture(img: np.ndarray) -> Reading:
    """What a (64, 64, 3) uint8 picture shows."""
    px = img.astype(np.float32)
    border = np.concatenate([px[:2].reshape(-1, 3), px[-2:].reshape(-1, 3), px[:, :2].reshape(-1, 3),
                             px[:, -2:].reshape(-1, 3)])
    bg = np.median(border, axis=0)
    fg = np.sqrt(((px - bg) ** 2).sum(axis=-1)) > 70.0  # (64, 64) far from the background
    labels, n = ndimage.label(ndimage.binary_opening(fg))
    sizes = ndimage.sum(fg, labels, range(1, n + 1)) if n else np.array([])
    blobs = [i + 1 for i, s in enumerate(sizes) if s >= 30]
    if not blobs:
        return Reading(nearest_colour(bg), None, None, 0)
    colour = nearest_colour(np.median(px[np.isin(labels, blobs)], axis=0))
    ys, xs = np.nonzero(labels == blobs[int(np.argmax([sizes[b - 1] for b in blobs]))])
    fill = len(ys) / ((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
    return Reading(nearest_colour(bg), colour, shape_from_fill(fill), len(blobs))


def prompt_graph(text: str, negative: str, cfg: float, seed: int, prefix: str) -> dict:
    """The default txt2img graph (COMPAT 3.1) on the demo checkpoint at 64x64."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": str(CKPT)}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": BATCH}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": STEPS, "cfg": cfg, "sampler_name": "euler", "scheduler": "normal", "denoise": 1,
            "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": prefix, "images": ["8", 0]}},
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert CKPT_FILE.is_file(), f"the committed demo checkpoint is missing: {CKPT_FILE}"
    base = tmp_path_factory.mktemp("demo")
    target = base / "models" / "checkpoints" / CKPT
    target.parent.mkdir(parents=True)
    shutil.copyfile(CKPT_FILE, target)
    proc = ServerProcess(base)
    yield proc
    proc.stop()


async def generate(url: str, graphs: list[dict]) -> list[list[np.ndarray]]:
    """Queue every graph, wait until the last one finishes, return each one's pictures."""
    async with aiohttp.ClientSession(url) as http:
        ws = await http.ws_connect("/ws?clientId=demo")
        ids = []
        for graph in graphs:
            resp = await http.post("/prompt", json={"prompt": graph, "client_id": "demo"})
            assert resp.status == 200, await resp.text()
            ids.append((await resp.json())["prompt_id"])
        pending = set(ids)
        while pending:
            frame = await asyncio.wait_for(ws.receive(), 120)
            if frame.type != aiohttp.WSMsgType.TEXT:  # binary latent previews
                continue
            msg = json.loads(frame.data)
            assert msg["type"] != "execution_error", msg
            if msg["type"] == "executing" and msg["data"]["node"] is None:
                pending.discard(msg["data"]["prompt_id"])
        out = []
        for pid in ids:
            history = await (await http.get(f"/history/{pid}")).json()
            pictures = []
            for image in history[pid]["outputs"]["9"]["images"]:
                data = await (await http.get("/view", params=image)).read()
                pictures.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
            out.append(pictures)
        await ws.close()
        return out


CASES = [  # (prompt, colour, background, shape)
    ("a red circle on a blue background", "red", "blue", "circle"),
    ("a yellow triangle on a black background", "yellow", "black", "triangle"),
    ("a blue circle on a white background", "blue", "white", "circle"),
    ("a yellow triangle on a blue background", "yellow", "blue", "triangle"),
]


def _matches(reading: Reading, case: tuple[str, str, str, str]) -> bool:
    return (reading.colour, reading.background, reading.shape) == case[1:]


def test_reader_on_drawn_scenes():
    for shape in ("circle", "square", "triangle"):
        img = (draw(Scene(shape, "orange", "gray", ((30.0, 34.0),), 14.0)).permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        assert read_picture(img) == Reading("gray", "orange", shape, 1)
    two = draw(Scene("circle", "blue", "white", ((16.0, 16.0), (46.0, 46.0)), 9.0))
    assert read_picture((two.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).count == 2


async def test_guidance_makes_pictures_match_their_prompts(server):
    graphs = [prompt_graph(text, "", cfg, seed=100 + i, prefix=f"cfg{cfg}")
              for cfg in (6.0, 1.0) for i, (text, *_) in enumerate(CASES)]
    results = await generate(server.url, graphs)
    guided, plain = results[: len(CASES)], results[len(CASES):]
    score = {}
    for name, runs in (("cfg6", guided), ("cfg1", plain)):
        readings = [(read_picture(p), case) for pics, case in zip(runs, CASES) for p in pics]
        score[name] = sum(_matches(r, c) for r, c in readings) / len(readings)
        score[name + "_colours"] = sum(r.colour == c[1] and r.background == c[2] for r, c in readings) / len(readings)
    assert score["cfg6_colours"] >= 0.75, score
    assert score["cfg6"] >= 0.6, score
    assert score["cfg6"] >= score["cfg1"] + 0.2, score


def _tint(pictures: list[np.ndarray], channel: int) -> float:
    """Mean excess of one RGB channel over the other two, over a batch of pictures."""
    px = np.stack(pictures).astype(np.float32)  # (B, 64, 64, 3)
    return float((px[..., channel] - np.delete(px, channel, axis=-1).mean(axis=-1)).mean())


async def test_negative_prompt_moves_away_from_the_colour_it_names(server):
    """Same seeds, colour left open by the prompt: the negative prompt decides which colour
    is avoided."""
    text = "a circle on a white background"
    red_neg, blue_neg = await generate(server.url, [prompt_graph(text, neg, 6.0, seed=7, prefix="neg")
                                                    for neg in ("red", "blue")])
    colours = {"red": [read_picture(p).colour for p in red_neg], "blue": [read_picture(p).colour for p in blue_neg]}
    assert "red" not in colours["red"] and "blue" not in colours["blue"], colours
    assert _tint(red_neg, 0) < _tint(blue_neg, 0), colours
    assert _tint(blue_neg, 2) < _tint(red_neg, 2), colours
