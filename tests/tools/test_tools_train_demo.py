"""The demo-model trainer: procedural scenes and captions, the latent rescale, and a quick
training run whose file loads through the normal loader and repeats byte for byte."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.tools import train_demo
from comfy_core.tools.demo import scenes as sc
from comfy_core.tools.demo import train


def test_draw_puts_the_shape_colour_inside_and_background_outside():
    scene = sc.Scene("circle", "red", "blue", ((32.0, 32.0),), 12.0)
    img = sc.draw(scene)  # (3, 64, 64) in [0, 1]
    red = torch.tensor(sc.PALETTE["red"]) / 255
    blue = torch.tensor(sc.PALETTE["blue"]) / 255
    assert torch.allclose(img[:, 32, 32], red)
    assert torch.allclose(img[:, 2, 2], blue)
    area = float(sc.shape_mask("circle", 32.0, 32.0, 12.0).sum())
    assert area == pytest.approx(math.pi * 144, rel=0.02)


def test_shapes_have_distinct_masks():
    masks = {s: sc.shape_mask(s, 32.0, 32.0, 14.0) for s in sc.SHAPES}
    square, circle, triangle = masks["square"], masks["circle"], masks["triangle"]
    assert float(square[20, 20]) == 1.0 and float(circle[20, 20]) == 0.0  # square fills its corners
    assert float(triangle[20, 32]) == 1.0 and float(triangle[20, 21]) == 0.0  # apex up, narrow top
    with pytest.raises(ValueError, match="hexagon"):
        sc.shape_mask("hexagon", 32.0, 32.0, 14.0)


def test_scenes_are_reproducible_and_captions_name_them():
    a_scenes, a_images = sc.make_scenes(20, seed=3)
    b_scenes, b_images = sc.make_scenes(20, seed=3)
    assert a_scenes == b_scenes and torch.equal(a_images, b_images)
    assert a_images.min() >= -1 and a_images.max() <= 1
    gen = torch.Generator().manual_seed(0)
    for scene in a_scenes:
        assert scene.colour != scene.background
        text = sc.caption(scene, gen)
        assert scene.shape in text
        assert text.startswith("two " if len(scene.centres) == 2 else "a ")
        if " on a " in text:
            assert text.endswith(f"on a {scene.background} background")


def test_latent_rescale_keeps_reconstructions_and_gives_unit_scaled_std():
    torch.manual_seed(0)
    vae = train.AutoencoderKL(train.VAE_CONFIG).eval().requires_grad_(False)
    _, images = sc.make_scenes(6, seed=1)
    before = vae.decode(vae.encode(images))
    latents, k = train.normalise_latent_scale(vae, train.encode_all(vae, images))
    assert float((latents * train.SCALE_FACTOR).std()) == pytest.approx(1.0, rel=1e-4)
    assert torch.allclose(vae.encode(images), latents, atol=1e-4 * k)
    assert torch.allclose(vae.decode(vae.encode(images)), before, atol=1e-4)


def test_lr_schedule_warms_up_then_decays_to_a_tenth():
    assert train.lr_at(0, 100, 1.0, 10) == pytest.approx(0.1)
    assert train.lr_at(10, 100, 1.0, 10) == pytest.approx(1.0)
    assert train.lr_at(100, 100, 1.0, 10) == pytest.approx(0.1)


def test_quick_run_loads_as_sd15_and_repeats_byte_for_byte(tmp_path):
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    summary = train_demo.run(train_demo.QUICK, first, threads=1)
    train_demo.run(train_demo.QUICK, second, threads=1)
    assert hashlib.sha256(first.read_bytes()).hexdigest() == hashlib.sha256(second.read_bytes()).hexdigest()
    assert summary["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
    assert summary["latent_std_scaled"] == pytest.approx(1.0, abs=1e-3)
    ckpt = load_checkpoint(first)
    assert ckpt.family.name == "sd15"
    assert ckpt.family.unet == train.UNET_CONFIG
    assert ckpt.family.latent.scale_factor == train.SCALE_FACTOR
    assert ckpt.vae is not None and ckpt.clip is not None
    text = ckpt.clip.encoders["clip_l"]
    assert text.config.vocab_size == 49408 and text.config.hidden_size == train.CLIP_CONFIG.hidden_size
    assert next(ckpt.model.model.diffusion_model.parameters()).dtype == torch.float16
