"""Loader nodes: VAE, UNet and text-encoder files split out of tiny checkpoints, LoRAs,
and clear errors for choices that are listed but not supported."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch
from nodes_models_helpers import LORA, empty_latent, encode, ksample, load, models_app, run, same

from comfy_core import runtime
from comfy_core.loading import keymaps as km
from comfy_core.loading.safetensors_io import load_state_dict, save_state_dict
from comfy_core.memory import MemoryManager, MemoryOptions
from nodes.loaders import vae_choices
from tests.fixtures.checkpoints import make_tiny_checkpoint

__all__ = ["models_app"]


def _split(models_app, family: str, prefix: str, folder: str, name: str) -> str:
    """Write the `prefix` part of a tiny checkpoint as its own file in `folder`."""
    path = models_app.folders.get_full_path_or_raise("checkpoints", f"{family}_tiny.safetensors")
    part = km.strip_prefix(load_state_dict(path), prefix)
    save_state_dict(part, models_app.folders.get_folder_paths(folder)[0] / name)
    return name


def _sample(model, clip, seed=1):
    pos, neg = encode(clip, "a cat"), encode(clip, "")
    return ksample(model, pos, neg, empty_latent(), seed=seed)["samples"]


def test_split_files_equal_the_checkpoint(models_app):
    model, clip, vae = load("sd15")
    unet_name = _split(models_app, "sd15", "model.diffusion_model.", "diffusion_models", "unet.safetensors")
    vae_name = _split(models_app, "sd15", "first_stage_model.", "vae", "vae.safetensors")
    clip_name = _split(models_app, "sd15", km.CLIP_L_PREFIX, "text_encoders", "clip_l.safetensors")
    (unet,) = run("UNETLoader", unet_name=unet_name, weight_dtype="default")
    (vae2,) = run("VAELoader", vae_name=vae_name)
    (clip2,) = run("CLIPLoader", clip_name=clip_name, type="stable_diffusion")
    assert clip2.family.name == "sd15"
    assert same(_sample(unet, clip2), _sample(model, clip))
    latent = {"samples": torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(0))}
    assert same(run("VAEDecode", vae=vae2, samples=latent)[0], run("VAEDecode", vae=vae, samples=latent)[0])


def test_unet_loader_fp8_weights_sample_like_their_fp32_values(models_app):
    """fp8_e4m3fn: every UNet tensor rests in float8 and each layer computes in float32.
    Exactly: the run equals a float32 run of the same weights rounded to e4m3 (what torch's
    own cast gives), so nothing but the storage rounding changes. Within a tolerance: e4m3
    keeps 3 mantissa bits (up to 2⁻⁴ relative error per weight); on this random tiny UNet over
    three steps that moves the latent by about 10% RMS of its size, so we require under 20%,
    while the same run from another random model differs by far more."""
    name = _split(models_app, "sd15", "model.diffusion_model.", "diffusion_models", "unet8.safetensors")
    folder = models_app.folders.get_folder_paths("diffusion_models")[0]
    weights = load_state_dict(folder / name)
    save_state_dict({k: v.to(torch.float8_e4m3fn).float() for k, v in weights.items()}, folder / "rounded.safetensors")
    (unet8,) = run("UNETLoader", unet_name=name, weight_dtype="fp8_e4m3fn")
    assert {p.dtype for p in unet8.model.diffusion_model.parameters()} == {torch.float8_e4m3fn}
    assert unet8.weights.storage_dtype() == torch.float8_e4m3fn and unet8.model.compute_dtype() == torch.float32
    _, clip, _ = load("sd15")
    pos, neg, latent = encode(clip, "a cat"), encode(clip, ""), empty_latent()

    def sample(model):
        return ksample(model, pos, neg, latent, seed=3, steps=3, cfg=5.0, scheduler="karras")["samples"]

    out8 = sample(unet8)
    rounded = sample(run("UNETLoader", unet_name="rounded.safetensors", weight_dtype="default")[0])
    torch.testing.assert_close(out8, rounded, rtol=1e-4, atol=1e-4 * float(rounded.abs().max()))
    full = sample(run("UNETLoader", unet_name=name, weight_dtype="default")[0])
    rms = lambda t: float(t.pow(2).mean().sqrt())
    assert rms(out8 - full) < 0.2 * rms(full)
    make_tiny_checkpoint("sd15", folder.parent / "checkpoints" / "other.safetensors", seed=5)
    other = sample(run("CheckpointLoaderSimple", ckpt_name="other.safetensors")[0])
    assert rms(other - full) > 3 * rms(out8 - full)


def test_dual_clip_loader_sdxl_matches_checkpoint_clip(models_app):
    _, clip, _ = load("sdxl")
    l_name = _split(models_app, "sdxl", km.SDXL_CLIP_L_PREFIX, "text_encoders", "xl_l.safetensors")
    g_name = _split(models_app, "sdxl", km.SDXL_CLIP_G_PREFIX, "text_encoders", "xl_g.safetensors")
    (dual,) = run("DualCLIPLoader", clip_name1=l_name, clip_name2=g_name, type="sdxl")
    want, got = encode(clip, "a cat")[0], encode(dual, "a cat")[0]
    assert same(got[0], want[0]) and same(got[1]["pooled_output"], want[1]["pooled_output"])


def test_unsupported_choices_fail_clearly(models_app):
    name = _split(models_app, "sd15", km.CLIP_L_PREFIX, "text_encoders", "clip_l2.safetensors")
    with pytest.raises(ValueError, match="'sd3' is not supported"):
        run("CLIPLoader", clip_name=name, type="sd3")
    with pytest.raises(ValueError, match="'flux' is not supported"):
        run("DualCLIPLoader", clip_name1=name, clip_name2=name, type="flux")
    with pytest.raises(ValueError, match="pixel_space"):
        run("VAELoader", vae_name="pixel_space")
    choices = vae_choices()
    assert choices[-1] == "pixel_space" and "taesd" not in choices


def test_vae_list_offers_taesd_when_both_halves_exist(models_app):
    approx = models_app.folders.get_folder_paths("vae_approx")[0]
    approx.mkdir(parents=True, exist_ok=True)
    for half in ("encoder", "decoder"):
        save_state_dict({"w": torch.zeros(1)}, approx / f"taesdxl_{half}.safetensors")
    save_state_dict({"w": torch.zeros(1)}, approx / "taesd_decoder.safetensors")
    choices = vae_choices()
    assert choices[-2:] == ["taesdxl", "pixel_space"]


def test_lora_changes_output_and_strength_zero_is_identity(models_app, caplog):
    model, clip, _ = load("sd15")
    base = _sample(model, clip)
    with caplog.at_level(logging.WARNING):
        lora_model, lora_clip = run("LoraLoader", model=model, clip=clip, lora_name=LORA,
                                    strength_model=1.0, strength_clip=1.0)
    assert "lora key not loaded" not in caplog.text
    assert not same(_sample(lora_model, lora_clip), base)
    assert same(_sample(model, clip), base)  # the original handles are untouched
    zero = run("LoraLoader", model=model, clip=clip, lora_name=LORA, strength_model=0.0, strength_clip=0.0)
    assert zero == (model, clip)
    (only_model,) = run("LoraLoaderModelOnly", model=model, lora_name=LORA, strength_model=0.0)
    assert only_model is model


def test_lora_model_only_reports_text_encoder_keys(models_app, caplog):
    model, clip, _ = load("sd15")
    base = _sample(model, clip)
    with caplog.at_level(logging.WARNING):
        (patched,) = run("LoraLoaderModelOnly", model=model, lora_name=LORA, strength_model=0.5)
    assert "lora key not loaded: lora_te_" in caplog.text
    assert not same(_sample(patched, clip), base)


def test_clip_loader_device_cpu_keeps_the_clip_on_the_cpu(models_app):
    name = _split(models_app, "sd15", km.CLIP_L_PREFIX, "text_encoders", "clip_l3.safetensors")
    # "meta" stands in for an accelerator; gpu_only would put text encoders on it.
    options = MemoryOptions(reserve_bytes=0, min_inference_bytes=0, force_fp32=True, gpu_only=True)
    manager = MemoryManager(options, "meta", total_memory=10**9)
    with runtime.use_app(dataclasses.replace(models_app, memory=manager)):
        (clip,) = run("CLIPLoader", clip_name=name, type="stable_diffusion", device="cpu")
        cond = encode(clip, "a cat")[0][0]
    assert clip.patcher.device.type == "cpu" and bool(torch.isfinite(cond).all())
