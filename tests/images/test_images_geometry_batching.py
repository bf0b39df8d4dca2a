"""Crop, rotate, flip, stitch, pad, resizes and batch tools: exact expectations."""

from __future__ import annotations

import pytest
import torch

from comfy_core.images import batching, geometry

GEN = torch.Generator().manual_seed(2)


def ramp(b=1, h=4, w=6, c=3):
    return torch.arange(b * h * w * c, dtype=torch.float32).reshape(b, h, w, c) / (b * h * w * c)


def test_crop_clamps_the_origin_and_cuts_at_the_edge():
    x = ramp()
    assert torch.equal(geometry.crop(x, 2, 3, 1, 1), x[:, 1:4, 1:3])
    assert torch.equal(geometry.crop(x, 10, 10, 99, 99), x[:, 3:, 5:])


def test_rotate_and_flip():
    x = ramp(h=2, w=3)
    r90 = geometry.rotate(x, "90 degrees")
    assert r90.shape == (1, 3, 2, 3)
    assert torch.equal(r90[0, 0, :, 0], x[0, :, 0, 0].flip(0))  # clockwise: left column becomes top row
    assert torch.equal(geometry.rotate(x, "180 degrees"), x.flip(1).flip(2))
    assert torch.equal(geometry.rotate(x, "none"), x)
    assert torch.equal(geometry.flip(x, "x-axis: vertically"), x.flip(1))
    assert torch.equal(geometry.flip(x, "y-axis: horizontally"), x.flip(2))
    with pytest.raises(ValueError, match="rotation must be one of"):
        geometry.rotate(x, "45 degrees")


def test_scales_keep_aspect():
    x = torch.rand(1, 40, 80, 3, generator=GEN)
    assert geometry.scale_longer_side(x, 20, "area").shape == (1, 10, 20, 3)
    assert geometry.scale_shorter_side(x, 20, "bilinear").shape == (1, 20, 40, 3)
    assert geometry.scale_to_total_pixels(x, 200, "nearest-exact").shape == (1, 10, 20, 3)
    assert geometry.scale_to_total_pixels(x, 50 * 100, "area", steps=16).shape == (1, 48, 96, 3)
    mask = torch.rand(2, 40, 80)
    assert geometry.scale_by(mask, 0.5, "bilinear").shape == (2, 20, 40)
    assert geometry.scale_to(mask, 0, 20, "area").shape == (2, 20, 40)
    assert geometry.scale_to(mask, 0, 0, "area") is mask


def test_resize_and_pad_centres_on_the_padding_colour():
    x = torch.full((1, 10, 20, 3), 0.5)
    out = geometry.resize_and_pad(x, 30, 30, "black", "area")
    assert out.shape == (1, 30, 30, 3)
    assert torch.all(out[:, 7:22] == 0.5) and torch.all(out[:, :7] == 0) and torch.all(out[:, 22:] == 0)
    assert torch.all(geometry.resize_and_pad(x, 30, 30, "white", "area")[:, :7] == 1)


def test_stitch_directions_spacing_and_padding():
    a, b = torch.zeros(1, 4, 4, 3), torch.ones(2, 2, 2, 3)
    right = geometry.stitch(a, b, "right", True, 0, "white")
    assert right.shape == (2, 4, 8, 3)  # batch filled with the last image, b scaled to height 4
    left = geometry.stitch(a, b, "left", True, 2, "red")
    assert left.shape == (2, 4, 10, 3) and torch.equal(left[0, 0, 4], torch.tensor([1.0, 0, 0]))
    down = geometry.stitch(a, b, "down", False, 0, "black")
    assert down.shape == (2, 6, 4, 3) and torch.all(down[0, 4:, 1:3] == 1) and torch.all(down[0, 4:, 0] == 0)
    assert geometry.stitch(a, None, "up", True, 4, "white") is a
    assert geometry.stitch(a, torch.ones(1, 4, 4, 4), "right", True, 1, "blue").shape == (1, 4, 10, 4)


def test_batch_images_and_masks_follow_the_first():
    a, b = torch.zeros(1, 4, 4, 3), torch.ones(2, 8, 8, 4)
    out = batching.batch_images([a, b])
    assert out.shape == (3, 4, 4, 4) and torch.all(out[0, ..., 3] == 1) and torch.all(out[1:] == 1)
    masks = batching.batch_masks([torch.zeros(4, 4), torch.ones(1, 2, 2)])
    assert masks.shape == (2, 4, 4) and torch.all(masks[1] == 1)
    with pytest.raises(ValueError, match="no images"):
        batching.batch_images([])


def test_slices_repeats_noise_and_rebatch():
    x = ramp(b=3)
    assert torch.equal(batching.from_batch(x, 1, 5), x[1:])
    assert torch.equal(batching.from_batch(x, 9, 1), x[2:])
    assert torch.equal(batching.repeat_batch(x, 2), torch.cat([x, x]))
    noisy = batching.add_noise(x, 7, 0.5)
    expected = (x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(7))).clip(0, 1)
    assert torch.equal(noisy, expected) and torch.equal(batching.add_noise(x, 7, 0.5), noisy)
    groups = batching.rebatch_images([x, ramp(b=2)], 2)
    assert [g.shape[0] for g in groups] == [2, 2, 1]
    assert torch.equal(groups[1][0], x[2]) and torch.equal(groups[1][1], ramp(b=2)[0])
