"""Load -> encode -> sample -> decode on tiny sd15 / sd21v / sdxl checkpoints through the
real nodes: image shapes, seed determinism, CFG, img2img and inpainting."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from nodes_models_helpers import FAMILIES, empty_latent, encode, ksample, load, models_app, run, same

from comfy_core import runtime
from comfy_core.memory import MemoryManager, MemoryOptions

__all__ = ["models_app"]


@pytest.fixture(scope="module")
def handles(models_app):
    """family -> (model, clip, vae, positive, negative), loaded once per module."""
    cache = {}

    def get(family: str):
        if family not in cache:
            model, clip, vae = load(family)
            cache[family] = (model, clip, vae, encode(clip, "a photo of a cat"), encode(clip, "blurry"))
        return cache[family]

    return get


@pytest.mark.parametrize("family", FAMILIES)
def test_txt2img_shape_and_seed_determinism(handles, family):
    model, _, vae, pos, neg = handles(family)
    first = ksample(model, pos, neg, empty_latent(), seed=3)
    again = ksample(model, pos, neg, empty_latent(), seed=3)
    other = ksample(model, pos, neg, empty_latent(), seed=4)
    assert first["samples"].shape == (1, 4, 8, 8) and first["samples"].dtype == torch.float32
    ms = model.get_model_object("model_sampling")  # built from the family at load, then kept
    assert ms.config.prediction == ("v" if family == "sd21v" else "eps")
    ksample(model, pos, neg, empty_latent(), steps=1)
    assert model.get_model_object("model_sampling") is ms
    assert same(first["samples"], again["samples"])
    assert not same(first["samples"], other["samples"])
    (image,) = run("VAEDecode", vae=vae, samples=first)
    (image_again,) = run("VAEDecode", vae=vae, samples=again)
    assert image.shape == (1, 64, 64, 3) and float(image.min()) >= 0 and float(image.max()) <= 1
    bytes_a = (image * 255).round().to(torch.uint8).numpy().tobytes()
    assert bytes_a == (image_again * 255).round().to(torch.uint8).numpy().tobytes()


def test_sdxl_conditioning_carries_pooled_output(handles):
    _, _, _, pos, _ = handles("sdxl")
    cond, options = pos[0]
    assert cond.shape == (1, 77, 64)  # tiny clip_l 32 + clip_g 32 features
    assert options["pooled_output"].shape == (1, 32)


def test_cfg_changes_the_result(handles):
    model, _, _, pos, neg = handles("sd15")
    one = ksample(model, pos, neg, empty_latent(), cfg=1.0)
    seven = ksample(model, pos, neg, empty_latent(), cfg=7.0)
    assert not same(one["samples"], seven["samples"])


def test_img2img_half_denoise_starts_from_the_image(handles):
    model, _, vae, pos, neg = handles("sd15")
    pixels = torch.linspace(0, 1, 64 * 64 * 3).reshape(1, 64, 64, 3)
    (latent,) = run("VAEEncode", vae=vae, pixels=pixels)
    half = ksample(model, pos, neg, latent, denoise=0.5)
    zero = ksample(model, pos, neg, latent, denoise=0.0)
    assert same(zero["samples"], latent["samples"])
    assert half["samples"].shape == latent["samples"].shape
    assert not same(half["samples"], latent["samples"])
    txt2img = ksample(model, pos, neg, empty_latent(), denoise=1.0)
    gap_half = (half["samples"] - latent["samples"]).abs().mean()
    gap_full = (txt2img["samples"] - latent["samples"]).abs().mean()
    assert gap_half < gap_full


def test_inpainting_keeps_unmasked_latents(handles):
    model, _, vae, pos, neg = handles("sd15")
    pixels = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(0))
    (latent,) = run("VAEEncode", vae=vae, pixels=pixels)
    mask = torch.zeros(1, 64, 64)
    mask[:, :, :32] = 1.0  # repaint the left half only
    (masked,) = run("SetLatentNoiseMask", samples=latent, mask=mask)
    out = ksample(model, pos, neg, masked, sampler="euler")
    kept, changed = out["samples"][..., 4:], out["samples"][..., :4]
    torch.testing.assert_close(kept, latent["samples"][..., 4:], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(changed, latent["samples"][..., :4], atol=1e-2)
    assert "noise_mask" in out


def test_ksampler_advanced_start_and_end_steps(handles):
    model, _, _, pos, neg = handles("sd15")

    def advanced(add_noise="enable", start=0, end=10000, leftover="disable", steps=4):
        return run("KSamplerAdvanced", model=model, add_noise=add_noise, noise_seed=5, steps=steps, cfg=7.0,
                   sampler_name="euler", scheduler="normal", positive=pos, negative=neg,
                   latent_image=empty_latent(), start_at_step=start, end_at_step=end,
                   return_with_leftover_noise=leftover)[0]["samples"]

    full = advanced()
    plain = ksample(model, pos, neg, empty_latent(), seed=5, steps=4)["samples"]
    assert same(full, plain)
    first_half = advanced(end=2, leftover="enable")
    assert not same(first_half, full)
    second = run("KSamplerAdvanced", model=model, add_noise="disable", noise_seed=5, steps=4, cfg=7.0,
                 sampler_name="euler", scheduler="normal", positive=pos, negative=neg,
                 latent_image={"samples": first_half}, start_at_step=2, end_at_step=10000,
                 return_with_leftover_noise="disable")[0]["samples"]
    torch.testing.assert_close(second, full, rtol=1e-4, atol=1e-3)
    untouched = advanced(start=4)
    assert same(untouched, empty_latent()["samples"])


def test_progress_reaches_the_job_and_interrupt_stops(handles):
    model, _, _, pos, neg = handles("sd15")
    seen = []
    job = runtime.JobContext(prompt_id="p", on_progress=lambda v, n, p: seen.append((v, n)))
    with runtime.use_job(job):
        ksample(model, pos, neg, empty_latent(), steps=3)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    job.interrupt.set()
    with runtime.use_job(job), pytest.raises(runtime.Interrupted):
        ksample(model, pos, neg, empty_latent(), steps=3)


def test_budgeted_memory_manager_streams_and_matches(models_app, handles):
    """With a manager whose budget is smaller than the UNet, layers stream per call and
    the result equals the unmanaged run (fp32 everywhere)."""
    model, _, _, pos, neg = handles("sd15")
    want = ksample(model, pos, neg, empty_latent(), seed=9, steps=1)["samples"]
    options = MemoryOptions(reserve_bytes=0, min_inference_bytes=0, force_fp32=True)
    manager = MemoryManager(options, "cpu", total_memory=6_500_000)
    with runtime.use_app(dataclasses.replace(models_app, memory=manager)):
        model2, clip2, _ = load("sd15")
        pos2, neg2 = encode(clip2, "a photo of a cat"), encode(clip2, "blurry")
        got = ksample(model2, pos2, neg2, empty_latent(), seed=9, steps=1)["samples"]
        assert manager.is_partially_loaded(model2)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
