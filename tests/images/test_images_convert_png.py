"""uint8 truncation, PIL round trips and PNG text chunks."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image

from comfy_core.images.convert import image_to_uint8, pil_to_tensor, tensor_to_pil
from comfy_core.images.png import build_pnginfo, read_embedded_graphs, read_png_text, save_png


def test_uint8_truncates_and_clips():
    x = torch.tensor([[[0.999, 0.5, -0.2], [1.7, 0.0039, 0.00393]]])
    assert image_to_uint8(x).tolist() == [[[254, 127, 0], [255, 0, 1]]]


def test_pil_round_trip_of_exact_bytes():
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 7
    t = pil_to_tensor(Image.fromarray(pixels))
    assert t.shape == (1, 2, 3, 3) and t.dtype == torch.float32
    # k/255*255 may land just below k; saving then truncates one step down, as ComfyUI does.
    assert np.abs(image_to_uint8(t[0]).astype(int) - pixels).max() <= 1
    assert tensor_to_pil(torch.zeros(2, 2, 1)).mode == "L"


def test_png_chunks_in_order_and_read_back(tmp_path):
    path = tmp_path / "x.png"
    info = build_pnginfo({"3": {"class_type": "KSampler"}}, {"workflow": {"a": "é"}})
    save_png(Image.new("RGB", (2, 2)), path, info, compress_level=4)
    text = read_png_text(path)
    assert list(text) == ["prompt", "workflow"]
    assert text["workflow"] == json.dumps({"a": "é"})
    prompt, workflow = read_embedded_graphs(path)
    assert prompt == {"3": {"class_type": "KSampler"}} and workflow == {"a": "é"}


def test_prompt_none_writes_only_extra(tmp_path):
    path = tmp_path / "y.png"
    save_png(Image.new("RGB", (1, 1)), path, build_pnginfo(None, {"k": [1]}), 1)
    assert read_png_text(path) == {"k": "[1]"}
    assert read_embedded_graphs(path) == (None, None)
