"""Resizing (center crop, bislerp, lanczos) and mask operations."""

from __future__ import annotations

import pytest
import torch

from comfy_core.images import masks
from comfy_core.images.resize import bislerp, center_crop_to_aspect, lanczos, upscale


def test_center_crop_to_wider_and_taller_aspects():
    x = torch.arange(6 * 10, dtype=torch.float32).reshape(1, 1, 6, 10)
    assert center_crop_to_aspect(x, 1, 1).shape == (1, 1, 6, 6)
    assert torch.equal(center_crop_to_aspect(x, 1, 1), x[..., 2:8])
    assert center_crop_to_aspect(x, 10, 2).shape == (1, 1, 2, 10)


def test_bislerp_same_size_is_identity_and_norms_interpolate_linearly():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4, 3, 5, generator=g)
    assert torch.allclose(bislerp(x, 5, 3), x, atol=1e-5)
    # Two parallel vectors of norms 1 and 3: the midpoint has norm 2 along the same direction.
    pair = torch.tensor([[1.0, 0.0], [3.0, 0.0]]).T.reshape(1, 2, 1, 2)
    out = bislerp(pair, 3, 1)
    assert torch.allclose(out[0, :, 0, 1], torch.tensor([1.0, 0.0]))  # parallel: first wins
    orth = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).T.reshape(1, 2, 1, 2)
    mid = bislerp(orth, 4, 1)[0, :, 0]
    assert torch.allclose(mid.norm(dim=0), torch.ones(4), atol=1e-5)


def test_lanczos_goes_through_uint8():
    x = torch.full((1, 3, 4, 4), 0.5)
    out = lanczos(x, 2, 2)
    assert out.shape == (1, 3, 2, 2) and torch.allclose(out, torch.full_like(out, 127 / 255))


def test_upscale_rejects_unknown_method():
    with pytest.raises(ValueError, match="unknown upscale method"):
        upscale(torch.zeros(1, 1, 2, 2), 4, 4, "magic")


def test_grow_and_shrink_with_tapered_corners():
    m = torch.zeros(1, 5, 5)
    m[0, 2, 2] = 1
    grown = masks.grow(m, 1, tapered_corners=True)
    assert grown.sum() == 5 and grown[0, 1, 1] == 0
    assert masks.grow(m, 1, tapered_corners=False).sum() == 9
    assert torch.equal(masks.grow(masks.grow(m, 1, False), -1, False), m)


def test_feather_ramps_edges():
    out = masks.feather(torch.ones(1, 1, 4), left=2, top=0, right=0, bottom=0)
    assert out[0, 0].tolist() == [0.5, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("op,expected", [("multiply", 0.1875), ("add", 1.0), ("subtract", 0.5),
                                         ("and", 0.0), ("or", 1.0), ("xor", 1.0)])
def test_mask_combine_operations(op, expected):
    dst, src = torch.full((1, 3, 3), 0.75), torch.full((1, 2, 2), 0.25)
    out = masks.combine(dst, src, 1, 1, op)
    assert out[0, 2, 2].item() == pytest.approx(expected)
    assert out[0, 0, 0].item() == 0.75  # outside the source: untouched


def test_paste_latent_units_and_mask():
    dst, src = torch.zeros(1, 4, 4, 4), torch.ones(1, 4, 2, 2)
    out = masks.paste(dst.clone(), src, 16, 8, multiplier=8)
    assert out[0, 0, 1:3, 2:4].sum() == 4 and out.sum() == 16
    half = masks.paste(dst.clone(), src, 0, 0, mask=torch.full((1, 2, 2), 0.5))
    assert half[0, 0, 0, 0] == 0.5
