"""Image nodes against COMPAT 7 / 8.2-8.4 behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from comfy_core.images.png import read_png_text
from nodes.image import (EmptyImage, ImageBatch, ImageInvert, ImagePadForOutpaint, ImageScale,
                         ImageScaleBy, LoadImage, LoadImageOutput, PreviewImage, SaveImage)


def test_empty_image_color_channels():
    (img,) = EmptyImage().generate(5, 3, 2, 0xFF8000)
    assert img.shape == (2, 3, 5, 3) and img.dtype == torch.float32
    assert img[0, 0, 0].tolist() == pytest.approx([1.0, 128 / 255, 0.0])


def test_invert_is_one_minus_x():
    x = torch.rand(1, 4, 4, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ImageInvert().invert(x)[0], 1.0 - x)


def test_image_scale_keeps_aspect_when_one_side_is_zero():
    x = torch.rand(1, 20, 40, 3)
    assert ImageScale().upscale(x, "bilinear", 0, 10, "disabled")[0].shape == (1, 10, 20, 3)
    assert ImageScale().upscale(x, "nearest-exact", 10, 0, "disabled")[0].shape == (1, 5, 10, 3)
    assert ImageScale().upscale(x, "area", 0, 0, "disabled")[0] is x


def test_image_scale_center_crop_takes_the_middle():
    # 1x4 image with columns 0,1,2,3 scaled to 2x... a square crop keeps columns 1..2.
    cols = torch.arange(4, dtype=torch.float32).reshape(1, 1, 4, 1).expand(1, 2, 4, 3)
    (out,) = ImageScale().upscale(cols, "nearest-exact", 2, 2, "center")
    assert out[0, 0, :, 0].tolist() == [1.0, 2.0]


def test_image_scale_by_rounds_sides():
    (out,) = ImageScaleBy().upscale(torch.rand(1, 10, 15, 3), "bicubic", 1.5)
    assert out.shape == (1, 15, 22, 3)  # round(22.5) == 22 (banker's rounding, like Python)


def test_image_batch_resizes_second_to_first():
    a, b = torch.zeros(1, 8, 8, 3), torch.ones(2, 4, 6, 3)
    (out,) = ImageBatch().batch(a, b)
    assert out.shape == (3, 8, 8, 3) and torch.allclose(out[1:], torch.ones(2, 8, 8, 3))


def _reference_outpaint_mask(h, w, left, top, right, bottom, f):
    t = np.zeros((h, w), dtype=np.float32)
    for i in range(h):
        for j in range(w):
            d = min(i if top else h, h - i if bottom else h, j if left else w,
                    w - j if right else w)
            if d < f:
                t[i, j] = ((f - d) / f) ** 2
    return t


def test_pad_for_outpaint_image_and_feathered_mask():
    x = torch.rand(1, 12, 10, 3)
    img, mask = ImagePadForOutpaint().expand_image(x, 8, 0, 0, 16, 4)
    assert img.shape == (1, 28, 18, 3) and mask.shape == (1, 28, 18)
    assert torch.equal(img[:, 0:12, 8:18], x) and torch.all(img[:, 12:, :] == 0.5)
    expected = _reference_outpaint_mask(12, 10, 8, 0, 0, 16, 4)
    assert np.allclose(mask[0, 0:12, 8:18].numpy(), expected)
    assert torch.all(mask[0, 12:] == 1) and torch.all(mask[0, :, :8] == 1)


def test_save_image_counter_names_metadata_and_ui(app):
    images = torch.full((2, 4, 6, 3), 0.999)
    prompt = {"1": {"class_type": "SaveImage", "inputs": {}}}
    extra = {"workflow": {"nodes": [], "ünï": 1}}
    ui = SaveImage().save_images(images, "sub/ComfyUI", prompt=prompt, extra_pnginfo=extra)
    assert ui == {"ui": {"images": [
        {"filename": "ComfyUI_00001_.png", "subfolder": "sub", "type": "output"},
        {"filename": "ComfyUI_00002_.png", "subfolder": "sub", "type": "output"}]}}
    path = app.folders.output_dir / "sub" / "ComfyUI_00002_.png"
    text = read_png_text(path)
    assert list(text) == ["prompt", "workflow"]
    assert json.loads(text["prompt"]) == prompt
    assert json.loads(text["workflow"]) == extra["workflow"]
    assert "\\u00fc" in text["workflow"]  # ASCII-escaped JSON, so always a tEXt chunk
    with Image.open(path) as im:
        assert im.size == (6, 4) and im.getpixel((0, 0)) == (254, 254, 254)  # truncation
    again = SaveImage().save_images(images[:1], "sub/ComfyUI")
    assert again["ui"]["images"][0]["filename"] == "ComfyUI_00003_.png"


def test_save_image_disable_metadata(app_no_metadata):
    SaveImage().save_images(torch.zeros(1, 2, 2, 3), "x", prompt={"a": 1})
    assert read_png_text(app_no_metadata.folders.output_dir / "x_00001_.png") == {}


def test_save_image_refuses_prefix_outside_output(app):
    with pytest.raises(ValueError):
        SaveImage().save_images(torch.zeros(1, 2, 2, 3), "../escape")


def test_preview_image_goes_to_temp_with_random_suffix(app):
    node = PreviewImage()
    assert node.prefix_append.startswith("_temp_") and len(node.prefix_append) == 11
    ui = node.save_images(torch.zeros(1, 2, 2, 3))
    entry = ui["ui"]["images"][0]
    assert entry["type"] == "temp" and entry["subfolder"] == ""
    assert entry["filename"] == f"ComfyUI{node.prefix_append}_00001_.png"
    assert (app.folders.temp_dir / entry["filename"]).is_file()


def test_load_image_combo_hash_validation_and_annotations(app):
    Image.new("RGBA", (3, 2), (10, 20, 30, 255)).save(app.folders.input_dir / "b.png")
    Image.new("RGB", (3, 2)).save(app.folders.input_dir / "a.jpg")
    (app.folders.input_dir / "notes.txt").write_text("x")
    Image.new("RGB", (5, 4), (255, 0, 0)).save(app.folders.output_dir / "out.png")
    files, opts = LoadImage.INPUT_TYPES()["required"]["image"]
    assert files == ["a.jpg", "b.png"] and opts == {"image_upload": True}
    image, mask = LoadImage().load_image("b.png")
    assert image.shape == (1, 2, 3, 3) and mask.shape == (1, 2, 3)
    assert torch.all(mask == 0)  # fully opaque alpha -> nothing masked
    assert LoadImage().load_image("out.png [output]")[0].shape == (1, 4, 5, 3)
    assert len(LoadImage.IS_CHANGED("b.png")) == 64
    assert LoadImage.VALIDATE_INPUTS("out.png [output]") is True
    assert LoadImage.VALIDATE_INPUTS("missing.png") == "Invalid image file: missing.png"
    assert LoadImage.VALIDATE_INPUTS("../../etc/passwd") != True  # noqa: E712


def test_load_image_output_reads_the_names_the_output_route_lists(app):
    Image.new("RGB", (5, 4), (0, 255, 0)).save(app.folders.output_dir / "ComfyUI_00001_.png")
    [(kind, opts)] = LoadImageOutput.INPUT_TYPES()["required"].values()
    assert kind == "COMBO" and opts["remote"]["route"] == "/internal/files/output"
    assert opts["image_folder"] == "output" and opts["image_upload"] is True
    value = "ComfyUI_00001_.png [output]"  # what /internal/files/output lists
    assert LoadImageOutput.VALIDATE_INPUTS(value) is True
    image, mask = LoadImageOutput().load_image(value)
    assert image.shape == (1, 4, 5, 3) and torch.allclose(image[0, 0, 0], torch.tensor([0.0, 1.0, 0.0]))
    assert LoadImageOutput.IS_CHANGED(value) == LoadImage.IS_CHANGED(value)


def test_load_image_lists_and_loads_only_what_stays_in_input(app, tmp_path):
    """Links leading out of input/ and the hidden file of an unfinished write are neither
    offered by LoadImage nor accepted by name (a killed upload's partial file is cut)."""
    outside = tmp_path / "elsewhere.png"
    Image.new("RGB", (4, 4)).save(outside)
    folder = app.folders.input_dir
    Image.new("RGB", (4, 4)).save(folder / "real.png")
    (folder / "away.png").symlink_to(outside)
    (folder / "alias.png").symlink_to(folder / "real.png")
    partial = folder / ".pic.png.0a1b2c3d.partial"
    partial.write_bytes((folder / "real.png").read_bytes()[:40])
    assert LoadImage.INPUT_TYPES()["required"]["image"][0] == ["alias.png", "real.png"]
    assert LoadImage.VALIDATE_INPUTS("alias.png") is True
    for name in ("away.png", partial.name):
        assert LoadImage.VALIDATE_INPUTS(name) == f"Invalid image file: {name}"
    with pytest.raises(ValueError, match="unfinished write"):
        LoadImage().load_image(partial.name)
