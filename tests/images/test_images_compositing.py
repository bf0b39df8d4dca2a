"""Porter-Duff compositing against the published operator table (Porter & Duff 1984:
out = src * Fa + dst * Fb on premultiplied colour and alpha), and alpha split/join."""

from __future__ import annotations

import pytest
import torch

from comfy_core.images import compositing

GEN = torch.Generator().manual_seed(1)
# (Fa, Fb) from the paper, written out per operator.
PUBLISHED = {
    "CLEAR": lambda a, b: (0 * a, 0 * b),
    "SRC": lambda a, b: (1 + 0 * a, 0 * b),
    "DST": lambda a, b: (0 * a, 1 + 0 * b),
    "SRC_OVER": lambda a, b: (1 + 0 * a, 1 - a),
    "DST_OVER": lambda a, b: (1 - b, 1 + 0 * b),
    "SRC_IN": lambda a, b: (b, 0 * b),
    "DST_IN": lambda a, b: (0 * a, a),
    "SRC_OUT": lambda a, b: (1 - b, 0 * b),
    "DST_OUT": lambda a, b: (0 * a, 1 - a),
    "SRC_ATOP": lambda a, b: (b, 1 - a),
    "DST_ATOP": lambda a, b: (1 - b, a),
    "XOR": lambda a, b: (1 - b, 1 - a),
}


@pytest.mark.parametrize("mode", sorted(PUBLISHED))
def test_porter_duff_operators_match_the_published_table(mode):
    src, dst = torch.rand(2, 5, 6, 3, generator=GEN), torch.rand(2, 5, 6, 3, generator=GEN)
    src_mask, dst_mask = torch.rand(2, 5, 6, generator=GEN), torch.rand(2, 5, 6, generator=GEN)
    image, mask = compositing.composite_batch(src, src_mask, dst, dst_mask, mode)
    a, b = (1 - src_mask)[..., None], (1 - dst_mask)[..., None]  # MASK is inverted alpha
    fa, fb = PUBLISHED[mode](a, b)
    alpha = a * fa + b * fb
    colour = src * a * fa + dst * b * fb
    expected = torch.where(alpha > 1e-5, colour / alpha, torch.zeros_like(colour)).clamp(0, 1)
    assert torch.allclose(mask, 1 - alpha[..., 0], atol=1e-6)
    assert torch.allclose(image, expected, atol=1e-5)


def test_blend_modes_add_and_screen():
    src, dst = torch.full((1, 2, 2, 3), 0.6), torch.full((1, 2, 2, 3), 0.7)
    opaque = torch.zeros(1, 2, 2)
    added, mask = compositing.composite_batch(src, opaque, dst, opaque, "ADD")
    assert torch.allclose(added, torch.ones_like(added)) and torch.all(mask == 0)
    screen, _ = compositing.composite_batch(src, opaque, dst, opaque, "SCREEN")
    assert torch.allclose(screen, torch.full_like(screen, 0.6 + 0.7 - 0.42))


def test_source_and_masks_follow_the_destination_size_and_channels_must_match():
    src, dst = torch.rand(1, 4, 4, 3), torch.rand(1, 8, 6, 3)
    image, mask = compositing.composite_batch(src, torch.zeros(1, 4, 4), dst, torch.zeros(1, 2, 2), "SRC_OVER")
    assert image.shape == (1, 8, 6, 3) and mask.shape == (1, 8, 6)
    with pytest.raises(ValueError, match="source has 4 channels, destination 3"):
        compositing.composite_batch(torch.rand(1, 4, 4, 4), torch.zeros(1, 4, 4), dst,
                                    torch.zeros(1, 8, 6), "SRC")


def test_split_and_join_alpha_round_trip():
    rgba = torch.rand(2, 3, 4, 4, generator=GEN)
    rgb, mask = compositing.split_alpha(rgba)
    assert torch.equal(rgb, rgba[..., :3]) and torch.allclose(mask, 1 - rgba[..., 3])
    assert torch.allclose(compositing.join_alpha(rgb, mask), rgba)
    _, opaque = compositing.split_alpha(rgb)
    assert torch.all(opaque == 0)
    joined = compositing.join_alpha(rgb, torch.zeros(1, 1, 1))  # mask resized to the image
    assert joined.shape == (1, 3, 4, 4) and torch.all(joined[..., 3] == 1)
