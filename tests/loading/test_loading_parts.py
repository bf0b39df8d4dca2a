"""Separate VAE and text-encoder files, and OpenCLIP key conversion."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers.loaders.single_file_utils import convert_open_clip_checkpoint
from safetensors.torch import load_file, save_file

from comfy_core.loading import keymaps as km
from comfy_core.loading.checkpoint import load_checkpoint, load_clip, load_vae
from comfy_core.models.family import SD2_EPS, SDXL
from tests.fixtures.checkpoints import make_tiny_checkpoint


def _diffusers_vae_keys(ldm: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    cfg = {"down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4}
    return convert_ldm_vae_checkpoint({"first_stage_model." + k: v for k, v in ldm.items()}, cfg)


def test_vae_files_ldm_and_diffusers_layout(tmp_path: Path) -> None:
    full = load_file(str(make_tiny_checkpoint("sd15", tmp_path)))
    ldm = km.strip_prefix(full, "first_stage_model.")
    save_file(ldm, str(tmp_path / "vae_ldm.safetensors"))
    save_file(_diffusers_vae_keys(ldm), str(tmp_path / "vae_diffusers.safetensors"))
    latent = torch.randn(1, 4, 4, 4)
    a = load_vae(tmp_path / "vae_ldm.safetensors").decode(latent)
    b = load_vae(tmp_path / "vae_diffusers.safetensors").decode(latent)
    c = load_checkpoint(tmp_path / "sd15_tiny.safetensors").vae.decode(latent)
    assert a.shape == (1, 32, 32, 3)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def test_openclip_conversion_matches_diffusers(tmp_path: Path) -> None:
    full = load_file(str(make_tiny_checkpoint("sd21", tmp_path)))
    ours = km.openclip_to_hf(km.strip_prefix(full, km.CLIP_H_PREFIX))

    class _Cfg:
        hidden_size = 32
        num_hidden_layers = 2

    class _Model:
        config = _Cfg()

    ref = convert_open_clip_checkpoint(_Model(), full, prefix=km.CLIP_H_PREFIX)
    common = set(ref) & set(ours)
    assert len(common) >= len(ours) - 1
    for k in common:
        torch.testing.assert_close(ours[k], ref[k])
    back = km.hf_to_openclip(ours)
    orig = km.strip_prefix(full, km.CLIP_H_PREFIX)
    assert set(back) == set(orig)
    for k in back:
        torch.testing.assert_close(back[k], orig[k])


def test_clip_files_in_hf_layout(tmp_path: Path) -> None:
    full = load_file(str(make_tiny_checkpoint("sdxl", tmp_path)))
    clip_l = km.strip_prefix(full, km.SDXL_CLIP_L_PREFIX)
    clip_g = km.openclip_to_hf(km.strip_prefix(full, km.SDXL_CLIP_G_PREFIX))
    save_file(clip_l, str(tmp_path / "clip_l.safetensors"))
    save_file(clip_g, str(tmp_path / "clip_g.safetensors"))
    clip = load_clip([tmp_path / "clip_l.safetensors", tmp_path / "clip_g.safetensors"], SDXL)
    ref = load_checkpoint(tmp_path / "sdxl_tiny.safetensors").clip
    ids = torch.full((1, 77), 0)
    ids[0, :3] = torch.tensor([49406, 320, 49407])
    clip.load_model()
    ref.load_model()
    for name in ("clip_l", "clip_g"):
        h1, p1 = clip.encode_ids(name, ids)
        h2, p2 = ref.encode_ids(name, ids)
        torch.testing.assert_close(h1, h2)
        torch.testing.assert_close(p1, p2)


def test_clip_layer_defaults_and_clip_skip(tmp_path: Path) -> None:
    ckpt = load_checkpoint(make_tiny_checkpoint("sd21", tmp_path))
    enc = ckpt.clip.encoders["clip_h"]
    ids = torch.full((1, 77), 0)
    ids[0, :2] = torch.tensor([49406, 49407])
    ckpt.clip.load_model()
    default, _ = ckpt.clip.encode_ids("clip_h", ids)
    want, _ = enc.encode_tokens(ids, -2, True)  # SD2: penultimate + final norm
    torch.testing.assert_close(default, want)
    skip = ckpt.clip.clone()
    skip.clip_layer(-1)
    skip.load_model()
    last, _ = skip.encode_ids("clip_h", ids)
    assert not torch.allclose(last, default)
    assert ckpt.clip.layer_idx is None
    assert SD2_EPS.encoder("clip_h").pad_token == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_weights_resting_on_the_gpu_are_read_straight_onto_it_and_cast_there(tmp_path: Path) -> None:
    """--highvram / --gpu-only: the file goes to the device with no host copy on the way."""
    path = make_tiny_checkpoint("sd15", tmp_path, dtype=torch.float32)
    ckpt = load_checkpoint(path, dtype=torch.float16, vae_dtype=torch.float32, device="cuda")
    host = load_checkpoint(path, dtype=torch.float16, vae_dtype=torch.float32)
    for handle in (ckpt.model, ckpt.clip, ckpt.vae):
        assert {p.device.type for p in handle.weights.module.parameters()} == {"cuda"}
    assert {p.dtype for p in ckpt.model.unet.parameters()} == {torch.float16}
    for (name, gpu), cpu in zip(ckpt.model.unet.state_dict().items(), host.model.unet.state_dict().values()):
        assert torch.equal(gpu.cpu(), cpu), name
