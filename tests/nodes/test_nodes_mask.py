"""Mask nodes."""

from __future__ import annotations

import torch
from PIL import Image

from nodes.mask import (CropMask, GrowMask, ImageColorToMask, ImageCompositeMasked,
                        ImageToMask, InvertMask, LatentCompositeMasked, LoadImageMask,
                        MaskToImage, SolidMask, ThresholdMask)


def test_solid_invert_threshold_crop():
    (m,) = SolidMask().solid(0.25, 4, 3)
    assert m.shape == (1, 3, 4) and torch.all(m == 0.25)
    assert torch.all(InvertMask().invert(m)[0] == 0.75)
    assert torch.all(ThresholdMask().image_to_mask(m, 0.2)[0] == 1.0)
    assert CropMask().crop(m, 1, 1, 2, 5)[0].shape == (1, 2, 2)


def test_mask_image_conversions():
    m = torch.rand(2, 3, 4)
    (img,) = MaskToImage().mask_to_image(m)
    assert img.shape == (2, 3, 4, 3) and torch.equal(img[..., 2], m)
    assert torch.equal(ImageToMask().image_to_mask(img, "green")[0], m)
    px = torch.tensor([[[[1.0, 128 / 255, 0.0], [0.0, 0.0, 0.0]]]])
    assert ImageColorToMask().image_to_mask(px, 0xFF8000)[0].tolist() == [[[1.0, 0.0]]]


def test_grow_mask_node():
    m = torch.zeros(1, 3, 3)
    m[0, 1, 1] = 1
    assert GrowMask().expand_mask(m, 1, False)[0].sum() == 9


def test_composite_masked_nodes():
    dst = {"samples": torch.zeros(1, 4, 4, 4), "batch_index": [3]}
    (out,) = LatentCompositeMasked().composite(dst, {"samples": torch.ones(1, 4, 2, 2)}, 8, 8,
                                               False)
    assert out["batch_index"] == [3] and out["samples"][0, 0, 1:3, 1:3].sum() == 4
    assert dst["samples"].sum() == 0  # input untouched
    (img,) = ImageCompositeMasked().composite(torch.zeros(1, 4, 4, 3), torch.ones(1, 2, 2, 4),
                                              1, 1, False)
    assert img.shape == (1, 4, 4, 4) and img[0, 1:3, 1:3, :3].sum() == 12


def test_load_image_mask_node(app):
    Image.new("RGBA", (2, 2), (255, 0, 0, 0)).save(app.folders.input_dir / "m.png")
    assert torch.all(LoadImageMask().load_image("m.png", "alpha")[0] == 1.0)
    assert torch.all(LoadImageMask().load_image("m.png", "red")[0] == 1.0)
    assert LoadImageMask.VALIDATE_INPUTS("nope.png") == "Invalid image file: nope.png"
