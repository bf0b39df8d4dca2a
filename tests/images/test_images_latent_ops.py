"""Latent arithmetic, slicing, batching and the two latent operations: exact results and
the formulas they are documented by."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from comfy_core.images import latent_ops

GEN = torch.Generator().manual_seed(3)


def lat(*shape, **extra):
    return {"samples": torch.randn(*shape, generator=GEN), **extra}


def test_add_subtract_multiply_reshape_the_second():
    a, b = lat(2, 4, 8, 8), lat(1, 4, 4, 4)
    resized = latent_ops.reshape_to(a["samples"].shape, b["samples"])
    assert resized.shape == (2, 4, 8, 8) and torch.equal(resized[0], resized[1])
    assert torch.allclose(latent_ops.add(a, b)["samples"], a["samples"] + resized)
    assert torch.allclose(latent_ops.subtract(a, b)["samples"], a["samples"] - resized)
    assert torch.equal(latent_ops.multiply(a, -2.0)["samples"], a["samples"] * -2.0)
    out = latent_ops.add({**a, "noise_mask": torch.ones(1)}, b)
    assert "noise_mask" in out and out["samples"] is not a["samples"]


def test_interpolate_mixes_directions_and_lengths_per_position():
    a, b = lat(2, 4, 3, 3), lat(2, 4, 3, 3)
    out = latent_ops.interpolate(a, b, 0.25)["samples"]
    for i in range(2):
        for y in range(3):
            for x in range(3):
                u, v = a["samples"][i, :, y, x], b["samples"][i, :, y, x]
                d = 0.25 * u / u.norm() + 0.75 * v / v.norm()
                expected = d / d.norm() * (0.25 * u.norm() + 0.75 * v.norm())
                assert torch.allclose(out[i, :, y, x], expected, atol=1e-5)
    assert torch.allclose(latent_ops.interpolate(a, b, 1.0)["samples"], a["samples"], atol=1e-5)


def test_concat_cut_and_cut_to_batch():
    a, b = lat(1, 4, 2, 3), lat(1, 4, 2, 5)
    assert torch.equal(latent_ops.concat(a, b, "x")["samples"], torch.cat([a["samples"], b["samples"]], -1))
    assert torch.equal(latent_ops.concat(a, b, "-x")["samples"], torch.cat([b["samples"], a["samples"]], -1))
    video = lat(1, 4, 6, 2, 2)
    assert latent_ops.concat(video, video, "t")["samples"].shape == (1, 4, 12, 2, 2)
    s = a["samples"]
    assert torch.equal(latent_ops.cut(a, "x", 1, 5)["samples"], s[..., 1:])
    assert torch.equal(latent_ops.cut(a, "y", -1, 4)["samples"], s[..., 1:, :])
    assert torch.equal(latent_ops.cut(a, "x", 99, 1)["samples"], s[..., 2:])
    sliced = latent_ops.cut_to_batch(video, "t", 4)["samples"]
    assert sliced.shape == (1, 4, 4, 2, 2) and torch.equal(sliced, video["samples"][:, :, :4])
    wide = lat(1, 4, 2, 6)
    pieces = latent_ops.cut_to_batch(wide, "x", 2)["samples"]
    assert pieces.shape == (3, 4, 2, 2) and torch.equal(pieces[1], wide["samples"][0, :, :, 2:4])


def test_batch_and_seed_behaviour_keep_indices():
    a, b = lat(2, 4, 4, 4, batch_index=[5, 6]), lat(1, 4, 2, 2)
    out = latent_ops.batch([a, b])
    assert out["samples"].shape == (3, 4, 4, 4) and out["batch_index"] == [5, 6, 0]
    assert latent_ops.seed_behavior(a, "fixed")["batch_index"] == [5, 5]
    assert latent_ops.seed_behavior(lat(3, 4, 1, 1), "fixed")["batch_index"] == [0, 0, 0]
    assert "batch_index" not in latent_ops.seed_behavior(a, "random") and "batch_index" in a


def test_rebatch_regroups_items_with_masks_and_indices():
    first = lat(3, 4, 2, 2)
    masked = lat(2, 4, 2, 2, noise_mask=torch.zeros(1, 1, 16, 16), batch_index=[7, 8])
    other = lat(1, 4, 3, 3)
    out = latent_ops.rebatch([first, masked, other], 2)
    assert [o["samples"].shape[0] for o in out] == [2, 2, 1, 1]
    assert [o["batch_index"] for o in out] == [[0, 1], [2, 7], [8], [5]]
    assert "noise_mask" not in out[0] and out[1]["noise_mask"].shape == (2, 1, 16, 16)
    assert torch.equal(out[1]["noise_mask"][0], torch.ones(1, 16, 16))
    assert out[3]["samples"].shape[-1] == 3  # another size starts a new batch


def test_tonemap_reinhard_formula():
    x = torch.randn(1, 4, 5, 5, generator=GEN) * 3
    out = latent_ops.tonemap_reinhard(0.5)(latent=x)
    length = x.norm(dim=1, keepdim=True)
    top = (length.mean() + 5 * length.std()) * 0.5
    expected = x / length * (length / top / (length / top + 1) * top)
    assert torch.allclose(out, expected, atol=1e-5)


def test_sharpen_operation_sharpens_unit_vectors_and_restores_lengths():
    x = torch.randn(1, 4, 9, 9, generator=GEN)
    out = latent_ops.sharpen_operation(2, 1.0, 0.5)(latent=x)
    length = x.norm(dim=1, keepdim=True) + 1e-6
    coords = np.linspace(-1, 1, 5)
    g = np.exp(-(coords[:, None] ** 2 + coords[None, :] ** 2) / 2.0)
    kernel = -5.0 * g / g.sum()
    kernel[2, 2] += 1.0 - kernel.sum()
    unit = (x / length)[0].numpy().astype(np.float64)
    sharp = np.stack([ndimage.correlate(c, kernel, mode="mirror") for c in unit])
    assert torch.allclose(out[0], length[0] * torch.from_numpy(sharp).float(), atol=1e-5)
    flat = torch.ones(1, 4, 9, 9)
    assert torch.allclose(latent_ops.sharpen_operation(2, 1.0, 0.5)(latent=flat), flat, atol=1e-5)
    applied = latent_ops.apply({"samples": flat}, latent_ops.tonemap_reinhard(1.0))
    assert applied["samples"].shape == flat.shape


def test_bad_choices_are_named():
    with pytest.raises(ValueError, match="dim must be one of"):
        latent_ops.concat(lat(1, 4, 1, 1), lat(1, 4, 1, 1), "z")
    with pytest.raises(ValueError, match="seed_behavior"):
        latent_ops.seed_behavior(lat(1, 4, 1, 1), "sometimes")
