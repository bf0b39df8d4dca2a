"""VAE nodes on a tiny random-weight VAE (fixed seed, CPU)."""

from __future__ import annotations

import pytest
import torch

from comfy_core.images.masks import inpaint_inputs
from comfy_core.models.vae_value import VAE
from comfy_core.models.vae import AutoencoderKL, VAEConfig
from nodes.vae import VAEDecode, VAEDecodeTiled, VAEEncode, VAEEncodeForInpaint, VAEEncodeTiled


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return VAE(AutoencoderKL(VAEConfig(ch=32, ch_mult=(1, 1, 1, 1), num_res_blocks=1)).eval())


def test_encode_decode_shapes_and_range(app, vae):
    pixels = torch.rand(2, 20, 17, 3, generator=torch.Generator().manual_seed(1))
    (latent,) = VAEEncode().encode(vae, pixels)
    assert latent["samples"].shape == (2, 4, 2, 2)
    (image,) = VAEDecode().decode(vae, latent)
    assert image.shape == (2, 16, 16, 3) and image.min() >= 0 and image.max() <= 1


def test_tiled_nodes_match_whole_on_small_inputs(app, vae):
    latent = {"samples": torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(2))}
    (whole,) = VAEDecode().decode(vae, latent)
    (tiled,) = VAEDecodeTiled().decode(vae, latent, 512, 64)
    assert torch.allclose(whole, tiled, atol=1e-5)
    pixels = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(3))
    (enc,) = VAEEncodeTiled().encode(vae, pixels, 512, 64)
    assert torch.allclose(enc["samples"], VAEEncode().encode(vae, pixels)[0]["samples"],
                          atol=1e-5)


def test_inpaint_inputs_crop_grey_and_grow():
    pixels = torch.ones(1, 18, 16, 3)
    mask = torch.zeros(1, 18, 16)
    mask[0, 9, 8] = 1.0
    out, noise_mask = inpaint_inputs(pixels, mask, 3)
    assert out.shape == (1, 16, 16, 3) and noise_mask.shape == (1, 1, 16, 16)
    assert torch.all(out[0, 8, 8] == 0.5) and out[0, 0, 0, 0] == 1.0  # row 9 -> 8 after crop
    assert noise_mask.sum() == 9 and noise_mask[0, 0, 7:10, 7:10].sum() == 9
    _, no_grow = inpaint_inputs(pixels, mask, 0)
    assert no_grow.sum() == 1


def test_encode_for_inpaint_node(app, vae):
    (out,) = VAEEncodeForInpaint().encode(vae, torch.rand(1, 16, 16, 3), torch.ones(16, 16), 6)
    assert out["samples"].shape == (1, 4, 2, 2) and out["noise_mask"].shape == (1, 1, 16, 16)
    assert torch.all(out["noise_mask"] == 1)
