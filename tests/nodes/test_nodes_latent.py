"""Latent nodes (COMPAT 7 behaviour notes)."""

from __future__ import annotations

import pytest
import torch

from nodes.latent import (EmptyLatentImage, LatentBlend, LatentComposite, LatentCrop,
                          LatentFlip, LatentFromBatch, LatentRotate, LatentUpscale,
                          LatentUpscaleBy, RepeatLatentBatch, SetLatentNoiseMask)


def lat(b=1, h=8, w=8, seed=0):
    return {"samples": torch.randn(b, 4, h, w, generator=torch.Generator().manual_seed(seed))}


def test_empty_latent_shape_dtype_device():
    (out,) = EmptyLatentImage().generate(520, 64, 3)
    s = out["samples"]
    assert s.shape == (3, 4, 8, 65) and s.dtype == torch.float32 and s.device.type == "cpu"
    assert torch.count_nonzero(s) == 0
    spec = EmptyLatentImage.INPUT_TYPES()["required"]["width"][1]
    assert (spec["default"], spec["min"], spec["max"], spec["step"]) == (512, 16, 16384, 8)


@pytest.mark.parametrize("width,height,expected", [
    (0, 0, (8, 16)),  # both zero: passthrough
    (256, 0, (16, 32)),  # width given, height from aspect
    (0, 128, (16, 32)),
    (16, 16, (8, 8)),  # each side at least 64 px
    (0, 8, (8, 16)),  # 64 px minimum, width from aspect 2:1 -> 128 px
])
def test_latent_upscale_aspect_rules(width, height, expected):
    src = lat(h=8, w=16)
    (out,) = LatentUpscale().upscale(src, "nearest-exact", width, height, "disabled")
    assert tuple(out["samples"].shape[-2:]) == expected
    if width == height == 0:
        assert out is src


def test_latent_upscale_bislerp_and_by():
    (out,) = LatentUpscale().upscale(lat(), "bislerp", 96, 128, "center")
    assert out["samples"].shape == (1, 4, 16, 12)
    (out,) = LatentUpscaleBy().upscale(lat(h=6, w=10), "bilinear", 1.5)
    assert out["samples"].shape == (1, 4, 9, 15)


def test_latent_composite_hard_and_feathered():
    to, frm = {"samples": torch.zeros(1, 4, 8, 8)}, {"samples": torch.ones(1, 4, 4, 4)}
    (out,) = LatentComposite().composite(to, frm, 16, 8, feather=0)
    assert out["samples"][0, 0, 1:5, 2:6].sum() == 16 and out["samples"].sum() == 64
    assert to["samples"].sum() == 0
    (out,) = LatentComposite().composite(to, frm, 16, 16, feather=16)
    row = out["samples"][0, 0, 4, 2:6].tolist()
    assert row == pytest.approx([0.5, 1.0, 1.0, 0.5])  # 2-cell ramps on all inner edges


def test_latent_from_batch_clamps_and_records_indices():
    src = lat(b=4)
    src["noise_mask"] = torch.rand(2, 1, 64, 64)
    (out,) = LatentFromBatch().frombatch(src, 3, 5)
    assert out["samples"].shape[0] == 1 and out["batch_index"] == [3]
    assert torch.equal(out["noise_mask"], src["noise_mask"][1:2])
    (again,) = LatentFromBatch().frombatch(out, 0, 1)
    assert again["batch_index"] == [3]


def test_repeat_latent_batch_continues_indices():
    src = {**lat(b=2), "batch_index": [4, 5]}
    (out,) = RepeatLatentBatch().repeat(src, 3)
    assert out["samples"].shape[0] == 6 and out["batch_index"] == [4, 5, 6, 7, 8, 9]


def test_noise_mask_rotate_flip_crop_blend():
    (out,) = SetLatentNoiseMask().set_mask(lat(), torch.ones(2, 16, 16))
    assert out["noise_mask"].shape == (2, 1, 16, 16)
    x = lat(h=2, w=3)
    assert LatentRotate().rotate(x, "90 degrees")[0]["samples"].shape == (1, 4, 3, 2)
    assert torch.equal(LatentRotate().rotate(x, "90 degrees")[0]["samples"][0, 0, 0, 0],
                       x["samples"][0, 0, 1, 0])  # clockwise: bottom-left goes top-left
    assert torch.equal(LatentFlip().flip(x, "x-axis: vertically")[0]["samples"],
                       x["samples"].flip(2))
    (c,) = LatentCrop().crop(lat(h=16, w=16), 64, 64, 120, 8)
    assert c["samples"].shape == (1, 4, 8, 8)  # x clamped to 16 - 8 cells
    a, b = {"samples": torch.ones(1, 4, 4, 4)}, {"samples": torch.zeros(1, 4, 4, 4)}
    assert torch.all(LatentBlend().blend(a, b, 0.25)[0]["samples"] == 0.25)
