"""Inpainting checkpoints (9-channel UNets) through the real nodes on tiny random weights:
detection, KSampler after VAEEncodeForInpaint and after InpaintModelConditioning, what the
UNet receives in each channel slot (a forward pre-hook records it), CFG batching, and
regular 4-channel models left as they were."""

from __future__ import annotations

import pytest
import torch
from nodes_models_helpers import build_models, encode, ksample, load, run

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.sampling.concat import ConcatSource, inpaint_concat
from comfy_core.sampling.conditioning import from_comfy, resolve
from comfy_core.sampling.model_call import model_sampling_of, sampling_function
from comfy_core.settings import Settings

SCALE = 0.18215


@pytest.fixture(scope="module")
def inpaint_app(tmp_path_factory):
    base = build_models(tmp_path_factory.mktemp("inpaint"), families=("sd15", "sd15_inpaint"))
    ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base))
    with runtime.use_app(ctx):
        yield ctx


@pytest.fixture(scope="module")
def inpaint_model(inpaint_app):
    model, clip, vae = load("sd15_inpaint")
    return model, vae, encode(clip, "a red door"), encode(clip, "blurry")


@pytest.fixture
def unet_inputs(inpaint_model):
    """Records the x tensor of every forward call of the inpainting UNet."""
    seen: list[torch.Tensor] = []
    unet = inpaint_model[0].model.diffusion_model
    handle = unet.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().cpu()))
    yield seen
    handle.remove()


def _pixels() -> torch.Tensor:
    return torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(0))


def _mask() -> torch.Tensor:
    mask = torch.zeros(1, 64, 64)
    mask[:, 16:48, 8:40] = 1.0
    return mask


def test_tiny_inpainting_checkpoint_is_detected(inpaint_model):
    family = inpaint_model[0].model.family
    assert family.inpaint and family.unet.in_channels == 9
    assert family.name == "sd15"


def test_ksampler_after_vae_encode_for_inpaint(inpaint_model, unet_inputs):
    model, vae, pos, neg = inpaint_model
    (latent,) = run("VAEEncodeForInpaint", pixels=_pixels(), vae=vae, mask=_mask(), grow_mask_by=0)
    out = ksample(model, pos, neg, latent, steps=2, cfg=7.0)
    assert out["samples"].shape == (1, 4, 8, 8) and torch.isfinite(out["samples"]).all()
    assert len(unet_inputs) == 2 and all(x.shape == (2, 9, 8, 8) for x in unet_inputs)
    expected_mask = torch.zeros(8, 8)
    expected_mask[2:6, 1:5] = 1.0
    for x in unet_inputs:  # [negative, positive] x [x·c_in (4), mask (1), masked latent (4)]
        assert torch.equal(x[:, 4], expected_mask.repeat(2, 1, 1))
        torch.testing.assert_close(x[:, 5:], (latent["samples"] * SCALE).repeat(2, 1, 1, 1))


def test_inpaint_model_conditioning_node(inpaint_model):
    _, vae, pos, neg = inpaint_model
    pixels, mask = _pixels(), _mask() * 0.8  # soft: greys pixels where round(mask) == 1
    new_pos, new_neg, latent = run("InpaintModelConditioning", positive=pos, negative=neg, vae=vae,
                                   pixels=pixels, mask=mask, noise_mask=True)
    grey = pixels.clone()
    grey[:, 16:48, 8:40] = 0.5
    (concat,) = run("VAEEncode", vae=vae, pixels=grey)
    (whole,) = run("VAEEncode", vae=vae, pixels=pixels)
    torch.testing.assert_close(latent["samples"], whole["samples"])
    assert torch.equal(latent["noise_mask"], mask.unsqueeze(1))
    for cond, original in ((new_pos, pos), (new_neg, neg)):
        assert cond[0][0] is original[0][0] and "concat_latent_image" not in original[0][1]
        torch.testing.assert_close(cond[0][1]["concat_latent_image"], concat["samples"])
        assert torch.equal(cond[0][1]["concat_mask"], mask.unsqueeze(1))
    _, _, bare = run("InpaintModelConditioning", positive=pos, negative=neg, vae=vae,
                     pixels=pixels, mask=mask, noise_mask=False)
    assert "noise_mask" not in bare


def test_ksampler_after_inpaint_model_conditioning(inpaint_model, unet_inputs):
    model, vae, pos, neg = inpaint_model
    pixels = torch.rand(1, 68, 70, 3, generator=torch.Generator().manual_seed(1))  # cropped to 64x64
    mask = torch.zeros(1, 68, 70)
    mask[:, :, :35] = 1.0
    new_pos, new_neg, latent = run("InpaintModelConditioning", positive=pos, negative=neg, vae=vae,
                                   pixels=pixels, mask=mask, noise_mask=True)
    assert latent["samples"].shape == (1, 4, 8, 8) and latent["noise_mask"].shape == (1, 1, 64, 64)
    out = ksample(model, new_pos, new_neg, latent, steps=2, cfg=7.0)
    concat = new_pos[0][1]["concat_latent_image"]
    for x in unet_inputs:
        assert x.shape == (2, 9, 8, 8)
        torch.testing.assert_close(x[:, 5:], (concat * SCALE).repeat(2, 1, 1, 1))
        assert torch.equal(x[:, 4, :, :4], torch.ones(2, 8, 4)) and torch.equal(x[:, 4, :, 4:], torch.zeros(2, 8, 4))
    torch.testing.assert_close(out["samples"][..., 5:], latent["samples"][..., 5:], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(out["samples"][..., :3], latent["samples"][..., :3], atol=1e-2)


def test_batched_cfg_equals_two_separate_unet_calls(inpaint_model):
    model, vae, pos, neg = inpaint_model
    (latent,) = run("VAEEncodeForInpaint", pixels=_pixels(), vae=vae, mask=_mask(), grow_mask_by=6)
    run("KSampler", model=model, seed=0, steps=1, cfg=7.0, sampler_name="euler", scheduler="normal",
        positive=pos, negative=neg, latent_image=latent, denoise=1.0)  # loads the model
    ms, shape, base = model_sampling_of(model), latent["samples"].shape, model.model
    source = ConcatSource(latent["samples"] * SCALE, latent["noise_mask"], SCALE)
    conds = [resolve(from_comfy(c), shape, ms, concat=source) for c in (pos, neg)]
    x, sigma = torch.randn(shape, generator=torch.Generator().manual_seed(2)), torch.tensor([3.0])
    concat = inpaint_concat(source, shape)
    cond = base.apply_model(x, sigma, c_concat=concat, c_crossattn=pos[0][0])
    uncond = base.apply_model(x, sigma, c_concat=concat, c_crossattn=neg[0][0])
    batched = sampling_function(base, x, sigma, conds[1], conds[0], 7.0, {})
    torch.testing.assert_close(batched, uncond + (cond - uncond) * 7.0, rtol=1e-4, atol=1e-4)


def test_regular_model_ignores_inpaint_conditioning(inpaint_app, inpaint_model):
    model, clip, vae = load("sd15")
    pos, neg = encode(clip, "a red door"), encode(clip, "blurry")
    seen: list[torch.Size] = []
    handle = model.model.diffusion_model.register_forward_pre_hook(lambda _m, args: seen.append(args[0].shape))
    try:
        new_pos, new_neg, latent = run("InpaintModelConditioning", positive=pos, negative=neg, vae=vae,
                                       pixels=_pixels(), mask=_mask(), noise_mask=True)
        with_concat = ksample(model, new_pos, new_neg, latent)
        without = ksample(model, pos, neg, latent)
    finally:
        handle.remove()
    assert seen and all(s[1] == 4 for s in seen)
    assert torch.equal(with_concat["samples"], without["samples"])


def test_inpainting_unet_without_concat_fails_clearly(inpaint_model):
    base = inpaint_model[0].model
    with pytest.raises(ValueError, match="9 input channels, got 4.*mask"):
        base.apply_model(torch.zeros(1, 4, 8, 8), torch.ones(1), c_crossattn=torch.zeros(1, 77, 32))
