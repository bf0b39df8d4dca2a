"""The CLIP and VAE values' ComfyUI interfaces (COMPAT-PLUGINS 3.7, 3.8) on tiny checkpoints:
token-dict layout per family, encode_from_tokens variants equal to the CLIPTextEncode
path, spliced tokens, key-addressed patches; VAE units (pixels vs latent cells), crops,
compression ratios and memory estimates."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.text.tokenizer import BOS_ID, EOS_ID
from tests.fixtures.checkpoints import make_tiny_checkpoint


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("ckpt")
    return {f: load_checkpoint(make_tiny_checkpoint(f, base)) for f in ("sd15", "sd21v", "sdxl")}


@pytest.mark.parametrize(("family", "keys", "pad"), [("sd15", {"l"}, EOS_ID), ("sd21v", {"h"}, 0),
                                                       ("sdxl", {"g", "l"}, None)])
def test_token_layout_per_family(ckpts, family, keys, pad):
    clip = ckpts[family].clip
    tokens = clip.tokenize("a (cat:1.5)")
    assert set(tokens) == keys
    for key, chunks in tokens.items():
        assert len(chunks) == 1 and len(chunks[0]) == 77
        assert chunks[0][0] == (BOS_ID, 1.0) and chunks[0][2][1] == 1.5 and chunks[0][1][1] == 1.0
        assert chunks[0][3] == (EOS_ID, 1.0)
        if pad is not None:
            assert chunks[0][-1] == (pad, 1.0)
    with_ids = clip.tokenize("a (cat:1.5)", return_word_ids=True)[next(iter(keys))][0]
    assert [t[2] for t in with_ids[:5]] == [0, 1, 2, 0, 0] and len(with_ids[5]) == 3


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_encode_from_tokens_variants(ckpts, family):
    clip = ckpts[family].clip
    tokens = clip.tokenize("a photo of a cat")
    cond = clip.encode_from_tokens(tokens)
    cond2, pooled = clip.encode_from_tokens(tokens, return_pooled=True)
    as_dict = clip.encode_from_tokens(tokens, return_dict=True)
    scheduled = clip.encode_from_tokens_scheduled(tokens, add_dict={"extra": 1})
    assert cond.shape[:2] == (1, 77) and torch.equal(cond, cond2) and torch.equal(cond, as_dict["cond"])
    assert torch.equal(pooled, as_dict["pooled_output"])
    assert len(scheduled) == 1 and torch.equal(scheduled[0][0], cond)
    assert set(scheduled[0][1]) == {"pooled_output", "extra"}
    unprojected = clip.encode_from_tokens(tokens, return_pooled="unprojected")[1]
    if family == "sdxl":  # clip_g projects its pooled vector; unprojected is the raw one
        assert not torch.allclose(unprojected, pooled)
    else:
        assert torch.equal(unprojected, pooled)


def test_spliced_tokens_and_shorter_sides(ckpts):
    """Plugins splice one encoder's tokens from another prompt; l and g may differ in length."""
    clip = ckpts["sdxl"].clip
    tokens = clip.tokenize("a cat")
    tokens["l"] = clip.tokenize("a dog")["l"]
    mixed = clip.encode_from_tokens(tokens)
    dog, cat = clip.encode_from_tokens(clip.tokenize("a dog")), clip.encode_from_tokens(clip.tokenize("a cat"))
    width_l = clip.encoders["clip_l"].config.hidden_size
    torch.testing.assert_close(mixed[..., :width_l], dog[..., :width_l])
    torch.testing.assert_close(mixed[..., width_l:], cat[..., width_l:])
    tokens["g"] = tokens["g"] + clip.tokenize("")["g"]  # two chunks of g, one of l: cut to the shorter
    assert clip.encode_from_tokens(tokens).shape[1] == 77
    with pytest.raises(ValueError, match="encoder 'h'"):
        clip.encode_from_tokens({"h": tokens["g"]})


def test_clip_patches_are_state_dict_keyed_and_cloned(ckpts):
    clip = ckpts["sd15"].clip
    keys = clip.get_key_patches()
    key = "clip_l.transformer.text_model.encoder.layers.0.mlp.fc1.weight"
    assert key in keys and key in clip.get_sd()
    twin = clip.clone()
    assert twin.patcher is not clip.patcher and twin.cond_stage_model is clip.cond_stage_model
    twin.clip_layer(-2)
    assert twin.add_patches({key: (torch.ones_like(keys[key][0][0]),)}, 0.0) == [key]
    assert clip.layer_idx is None and clip.patcher.patches == {}
    before = clip.encode_from_tokens(clip.tokenize("a cat"))
    assert not torch.equal(twin.encode_from_tokens(twin.tokenize("a cat")), before)  # layer -2
    torch.testing.assert_close(clip.encode_from_tokens(clip.tokenize("a cat")), before, rtol=0, atol=0)


def test_vae_units_and_shapes(ckpts):
    vae = ckpts["sd15"].vae
    assert (vae.downscale_ratio, vae.upscale_ratio, vae.latent_channels, vae.latent_dim) == (8, 8, 4, 2)
    assert vae.spacial_compression_encode() == vae.spacial_compression_decode() == 8
    assert vae.temporal_compression_decode() is None and vae.output_device == torch.device("cpu")
    assert vae.vae_encode_crop_pixels(torch.zeros(1, 21, 30, 3)).shape == (1, 16, 24, 3)
    pixels = torch.rand(1, 48, 64, 3, generator=torch.Generator().manual_seed(0))
    latent = vae.encode(pixels)
    assert latent.shape == (1, 4, 6, 8) and latent.dtype == torch.float32
    image = vae.decode(latent)
    assert image.shape == (1, 48, 64, 3) and 0 <= float(image.min()) and float(image.max()) <= 1
    # decode_tiled counts latent cells (a tile covering the latent = the whole decode),
    # encode_tiled counts pixels (a tile covering the image = the whole encode).
    torch.testing.assert_close(vae.decode_tiled(latent, tile_x=8, tile_y=6, overlap=2), image, rtol=0, atol=0)
    torch.testing.assert_close(vae.encode_tiled(pixels, tile_x=64, tile_y=48, overlap=16), latent, rtol=0, atol=0)
    assert not torch.equal(vae.decode_tiled(latent, tile_x=4, tile_y=4, overlap=2), image)
    torch.testing.assert_close(vae.decode(latent[:, :, None].repeat(1, 1, 3, 1, 1)), image, rtol=0, atol=0)
    assert vae.memory_used_decode((2, 4, 8, 8), torch.float16) == 2178 * 64 * 2 * 64 * 2
    assert vae.memory_used_encode((2, 64, 64, 3), torch.float32) == 1767 * 2 * 64 * 64 * 4
    assert set(vae.get_sd()) == set(vae.first_stage_model.state_dict())


def test_vae_without_a_model_says_so(tmp_path: Path):
    from comfy_core.models.vae_value import VAE

    shell = VAE.__new__(VAE)
    shell.first_stage_model = None
    with pytest.raises(RuntimeError, match="VAE is invalid"):
        shell.decode(torch.zeros(1, 4, 2, 2))
