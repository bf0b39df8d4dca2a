"""The VAE against diffusers' AutoencoderKL, and tiled against full processing."""

from __future__ import annotations

import pytest
import torch
from diffusers import AutoencoderKL as RefAutoencoderKL
from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

from comfy_core.models.vae import AutoencoderKL, VAEConfig
from comfy_core.models.vae_tiled import tile_starts, tiled_apply

TINY = VAEConfig(ch=32, ch_mult=(1, 2, 2, 2), num_res_blocks=1)


def _tiny_vae(seed: int = 0) -> AutoencoderKL:
    torch.manual_seed(seed)
    vae = AutoencoderKL(TINY).eval()
    with torch.no_grad():
        for p in vae.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return vae


def test_vae_matches_diffusers() -> None:
    vae = _tiny_vae()
    ldm = {"first_stage_model." + k: v for k, v in vae.state_dict().items()}
    n = len(TINY.ch_mult)
    dcfg = dict(
        in_channels=3,
        out_channels=3,
        block_out_channels=[TINY.ch * m for m in TINY.ch_mult],
        down_block_types=["DownEncoderBlock2D"] * n,
        up_block_types=["UpDecoderBlock2D"] * n,
        layers_per_block=TINY.num_res_blocks,
        latent_channels=4,
        norm_num_groups=32,
    )
    ref = RefAutoencoderKL(**dcfg).eval()
    missing, unexpected = ref.load_state_dict(convert_ldm_vae_checkpoint(ldm, dcfg), strict=False)
    assert not missing and not unexpected
    x = torch.rand(1, 3, 32, 40) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x)
        assert z.shape == (1, 4, 4, 5)
        torch.testing.assert_close(z, ref.encode(x).latent_dist.mean, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(vae.decode(z), ref.decode(z).sample, rtol=1e-4, atol=1e-4)


def test_tile_starts_cover_edges() -> None:
    assert tile_starts(10, 16, 4) == [0]
    assert tile_starts(40, 16, 4) == [0, 12, 24]
    assert tile_starts(28, 16, 4) == [0, 12]


def test_tiled_identity_function_is_exact() -> None:
    x = torch.randn(2, 3, 37, 29)
    out = tiled_apply(x, lambda t: t, tile=12, overlap=4, scale=1.0, out_channels=3)
    torch.testing.assert_close(out, x)


def test_tiled_decode_close_to_full_decode() -> None:
    vae = _tiny_vae(1)
    torch.manual_seed(3)
    z = torch.randn(1, 4, 24, 24)
    with torch.no_grad():
        full = vae.decode(z)
        single = tiled_apply(z, vae.decode, tile=32, overlap=8, scale=8, out_channels=3)
        tiled = tiled_apply(z, vae.decode, tile=12, overlap=6, scale=8, out_channels=3)
        unrelated = vae.decode(torch.randn(1, 4, 24, 24))
    torch.testing.assert_close(single, full)
    assert tiled.shape == full.shape
    # Random weights make GroupNorm/attention statistics tile-dependent, so only "much
    # closer than an unrelated image" is a fair bound here; exact mapping is checked below.
    assert (tiled - full).abs().mean() < 0.5 * (unrelated - full).abs().mean()


def test_tiled_upscaling_function_places_tiles_exactly() -> None:
    z = torch.randn(2, 4, 20, 27)
    up = lambda t: torch.nn.functional.interpolate(t, scale_factor=8.0, mode="nearest")[:, :3]
    out = tiled_apply(z, up, tile=8, overlap=3, scale=8, out_channels=3)
    torch.testing.assert_close(out, up(z))


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last], ids=["nchw", "channels_last"])
def test_every_decoder_convolution_keeps_the_input_layout(layout) -> None:
    """One layout throughout: a convolution handed the other one re-lays out its weights
    or its activations on every call."""
    vae = _tiny_vae()
    layouts: list[tuple[str, bool]] = []
    for name, module in vae.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_pre_hook(
                lambda m, args, name=name: layouts.append((name, args[0].is_contiguous(memory_format=layout))))
    with torch.no_grad():
        vae.decode(torch.randn(1, 4, 8, 8).contiguous(memory_format=layout))
    assert len(layouts) > 10 and [name for name, ok in layouts if not ok] == []
