"""Handles: budgeted (streamed) loading, compute-dtype casting, VAE image conversion."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from comfy_core.loading.checkpoint import load_checkpoint
from tests.fixtures.checkpoints import make_tiny_checkpoint


def _run_unet(model, x, t, ctx, y=None) -> torch.Tensor:
    with torch.no_grad():
        return model.model.diffusion_model(x.to(model.model.compute_dtype()), t, ctx, y).float()


@pytest.fixture(scope="module")
def sdxl_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint("sdxl", tmp_path_factory.mktemp("ckpt"))


def test_budgeted_load_gives_the_same_output(sdxl_path: Path) -> None:
    ckpt = load_checkpoint(sdxl_path)
    model = ckpt.model
    torch.manual_seed(0)
    x, t = torch.randn(1, 4, 8, 8), torch.tensor([321.0])
    ctx, y = torch.randn(1, 77, ckpt.family.unet.context_dim), torch.randn(1, ckpt.family.adm_size)
    model.load("cpu")
    full = _run_unet(model, x, t, ctx, y)
    assert model.loaded_size() == model.model_size()
    budget = model.model_size() // 3
    model.load("cpu", budget_bytes=budget)
    assert 0 < model.loaded_size() <= budget
    torch.testing.assert_close(_run_unet(model, x, t, ctx, y), full, rtol=0, atol=0)
    model.load("cpu", budget_bytes=0)
    assert model.loaded_size() == 0
    torch.testing.assert_close(_run_unet(model, x, t, ctx, y), full, rtol=0, atol=0)
    model.offload()
    assert model.loaded_size() == 0 and model.device == torch.device("cpu")


def test_fp16_storage_with_fp32_compute(sdxl_path: Path) -> None:
    ref = load_checkpoint(sdxl_path)
    half = load_checkpoint(sdxl_path, dtype=torch.float16, clip_dtype=torch.float16)
    assert next(half.model.model.diffusion_model.parameters()).dtype == torch.float16
    half.model.set_model_compute_dtype(torch.float32)
    half.model.load("cpu", budget_bytes=half.model.model_size() // 2)
    ref.model.load("cpu")
    torch.manual_seed(1)
    x, t = torch.randn(1, 4, 8, 8), torch.tensor([10.0])
    ctx, y = torch.randn(1, 77, ref.family.unet.context_dim), torch.randn(1, ref.family.adm_size)
    a, b = _run_unet(half.model, x, t, ctx, y), _run_unet(ref.model, x, t, ctx, y)
    assert next(half.model.model.diffusion_model.parameters()).dtype == torch.float16  # storage untouched
    torch.testing.assert_close(a, b, rtol=2e-2, atol=2e-2)
    ids = torch.full((1, 77), 49407)
    ids[0, 0] = 49406
    half.clip.load_model()
    ref.clip.load_model()
    h1, p1 = half.clip.encode_ids("clip_g", ids)
    h2, p2 = ref.clip.encode_ids("clip_g", ids)
    assert h1.dtype == torch.float32
    torch.testing.assert_close(h1, h2, rtol=2e-2, atol=2e-2)


def test_clone_shares_module_and_copies_settings(sdxl_path: Path) -> None:
    ckpt = load_checkpoint(sdxl_path)
    twin = ckpt.model.clone()
    assert twin.model is ckpt.model.model and twin.shares_weights(ckpt.model) and twin.is_clone(ckpt.model)
    clip2 = ckpt.clip.clone()
    clip2.clip_layer(-1)
    assert ckpt.clip.layer_idx is None and clip2.layer_idx == -1
    with pytest.raises(ValueError, match="negative"):
        clip2.clip_layer(0)


def test_vae_handle_image_round_trip_shapes(tmp_path: Path) -> None:
    vae = load_checkpoint(make_tiny_checkpoint("sd15", tmp_path)).vae
    image = torch.rand(2, 45, 70, 3)
    latent = vae.encode(image)
    assert latent.shape == (2, 4, 5, 8) and latent.dtype == torch.float32
    decoded = vae.decode(latent)
    assert decoded.shape == (2, 40, 64, 3)
    assert decoded.min() >= 0 and decoded.max() <= 1
    tiled = vae.encode_tiled(torch.rand(1, 64, 96, 3), tile_x=32, tile_y=32, overlap=16)
    assert tiled.shape == (1, 4, 8, 12)
    assert vae.decode_tiled(latent, tile_x=4, tile_y=4, overlap=2).shape == (2, 40, 64, 3)
    with pytest.raises(ValueError, match="multiples of 8"):
        vae.encode_tiled(image, tile_x=30, tile_y=30, overlap=8)


def test_vae_handle_runs_channels_last_on_the_cpu_and_hands_back_nchw(tmp_path: Path) -> None:
    """oneDNN's native layout inside the VAE; the latent it returns is plain NCHW (a
    channels-last latent would make every UNet convolution re-lay out its weights)."""
    vae = load_checkpoint(make_tiny_checkpoint("sd15", tmp_path)).vae
    seen: list[bool] = []
    for module in vae.first_stage_model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_pre_hook(
                lambda m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    image = torch.rand(1, 32, 48, 3)
    latent = vae.encode(image)
    decoded = vae.decode(latent)
    assert len(seen) > 20 and all(seen)
    assert latent.is_contiguous() and decoded.shape == (1, 32, 48, 3)
    with torch.no_grad():
        nchw = vae.first_stage_model.decode(latent)  # the module itself, in the default layout
    torch.testing.assert_close(decoded, ((nchw + 1) / 2).clamp(0, 1).movedim(1, -1), atol=1e-5, rtol=1e-5)
