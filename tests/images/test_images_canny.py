"""Canny edges against kornia's `filters.canny` (what ComfyUI's Canny node runs) on random
and on drawn images with exact ties and step edges, through the node too; thresholds
checked."""

from __future__ import annotations

import pytest
import torch

import nodes
from comfy_core.images.canny import canny

kornia_filters = pytest.importorskip("kornia.filters")


def _random(shape, seed):
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.avg_pool2d(x, 5, 1, 2)  # structure at several scales


def _drawn():
    """Flat shapes with step edges: equal magnitudes across every edge (the tie rules)."""
    x = torch.zeros(1, 3, 96, 128)
    x[:, :, 20:60, 30:90] = 1.0
    yy, xx = torch.meshgrid(torch.arange(96.0), torch.arange(128.0), indexing="ij")
    x[0, 1][((yy - 70) ** 2 + (xx - 40) ** 2) < 200] = 0.6
    x[:, 2, 10:90, 100:104] = 0.8
    return x


@pytest.mark.parametrize("image", [_random((2, 3, 64, 80), 0), _random((1, 3, 300, 260), 1),
                                   _random((1, 1, 50, 40), 2), _drawn()], ids=["rgb", "large", "gray", "drawn"])
@pytest.mark.parametrize("low,high", [(0.4, 0.8), (0.05, 0.2), (0.1, 0.1)])
def test_canny_equals_kornia(image, low, high):
    magnitude, edges = canny(image, low, high)
    ref_magnitude, ref_edges = kornia_filters.canny(image, low, high)
    assert torch.allclose(magnitude, ref_magnitude, atol=1e-6)
    assert torch.equal(edges, ref_edges)


def test_canny_node_gives_white_edges_on_black():
    node = nodes.NODE_CLASS_MAPPINGS["Canny"]
    image = _drawn().movedim(1, -1)
    out = node.detect_edge(image, 0.4, 0.8)[0]
    assert out.shape == image.shape and set(out.unique().tolist()) == {0.0, 1.0}
    ref = kornia_filters.canny(image.movedim(-1, 1).contiguous(), 0.4, 0.8)[1]
    assert torch.equal(out, ref.repeat(1, 3, 1, 1).movedim(1, -1))
    assert torch.equal(node.execute(torch.cat([image, image[..., :1]], -1), 0.4, 0.8)[0], out)  # RGBA: alpha ignored


def test_canny_thresholds_are_checked():
    with pytest.raises(ValueError, match="low <= high"):
        canny(_drawn(), 0.8, 0.4)
