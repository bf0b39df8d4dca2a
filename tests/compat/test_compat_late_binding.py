"""Late binding of `comfy.samplers.sampling_function` and ComfyUI's model conds, through
the fixture pack `step_pack/` (loaded by the real loader): its replacements, installed for
one sampling run the way AnimateDiff-Evolved installs its own, are what our sampler calls,
and a pack's per-batch slices of `model_conds` are what the UNet gets. Each result is
checked against the denoiser written out by hand over the tiny SD1.5 UNet."""

from pathlib import Path

import pytest
import torch

import nodes
from tests.compat.plugin_host import plugin_host
from tests.fixtures.checkpoints import make_tiny_checkpoint

PACK = Path(__file__).with_name("step_pack")
SIGMA = 3.0  # one Euler step from σ to 0 returns the denoised estimate itself


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    base = tmp_path_factory.mktemp("step_pack")
    make_tiny_checkpoint("sd15", base / "models" / "checkpoints")
    with plugin_host(base, (PACK,)) as bound:
        yield bound


@pytest.fixture(scope="module")
def sd15(host):
    model, clip, _vae = nodes.CheckpointLoaderSimple().load_checkpoint("sd15_tiny.safetensors")
    encode = nodes.CLIPTextEncode().encode
    return model, encode(clip, "a red circle")[0], encode(clip, "a blue square")[0], encode(clip, "")[0]


def run_one_step(model, positive, negative, noise, cfg):
    import comfy.sample
    import comfy.samplers

    sampler = comfy.samplers.sampler_object("euler")
    sigmas = torch.tensor([SIGMA, 0.0])
    return comfy.sample.sample_custom(model, noise, cfg, sampler, sigmas, positive, negative,
                                      torch.zeros_like(noise), seed=0)


def denoised_by_hand(model, x, context):
    """ε-prediction denoiser at σ: x − σ·ε(x / √(σ²+1), t(σ), context)."""
    base = model.model
    sigma = torch.full((x.shape[0],), SIGMA)
    t = base.model_sampling.timestep(sigma)
    with torch.no_grad():
        eps = base.diffusion_model(x / (SIGMA ** 2 + 1) ** 0.5, t, context=context, transformer_options={})
    return x - SIGMA * eps


def cfg_by_hand(model, x, cond, uncond, scale):
    c, u = denoised_by_hand(model, x, cond), denoised_by_hand(model, x, uncond)
    return u + (c - u) * scale


def to_latent(model, denoised):
    return denoised / model.model.latent_format.scale_factor  # process_latent_out of SD1.5


def test_a_replaced_sampling_function_is_called_and_restored(host, sd15):
    import comfy.samplers

    model, red, _blue, empty = sd15
    original = comfy.samplers.sampling_function
    patched = host.registry.get("StepScaleSampling").cls().patch(model, 0.5)[0]
    noise = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    got = run_one_step(patched, red, empty, noise, cfg=2.0)
    want = to_latent(model, 0.5 * cfg_by_hand(model, noise * SIGMA, red[0][0], empty[0][0], 2.0))
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4)
    log = patched.step_log
    assert log.calls == 1 and log.cond_scales == [2.0]
    assert hasattr(log.models[0], "apply_model")  # ComfyUI passes the base model
    assert comfy.samplers.sampling_function is original and not host.replaced_steps
    plain = run_one_step(model, red, empty, noise, cfg=2.0)  # the restored path is the plain one
    assert torch.allclose(plain, want / 0.5, atol=1e-4, rtol=1e-4)


def test_per_batch_slices_of_model_conds_reach_the_model(host, sd15):
    model, red, blue, empty = sd15
    patched = host.registry.get("StepPerBatchSampling").cls().patch(model)[0]
    both = [[torch.cat([red[0][0], blue[0][0]]), dict(red[0][1])]]  # one prompt per latent
    noise = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    got = run_one_step(patched, both, empty, noise, cfg=3.0)
    x = noise * SIGMA
    want = torch.cat([cfg_by_hand(model, x[i:i + 1], both[0][0][i:i + 1], empty[0][0], 3.0) for i in range(2)])
    assert torch.allclose(got, to_latent(model, want), atol=1e-4, rtol=1e-4)
    assert patched.step_log.calls == 1
    assert ("c_crossattn", "CONDCrossAttn") in patched.step_log.cond_kinds
    wrong = cfg_by_hand(model, x[1:], both[0][0][:1], empty[0][0], 3.0)  # row 1 with row 0's prompt
    assert not torch.allclose(got[1:], to_latent(model, wrong), atol=1e-3)


def test_model_cond_classes_fit_and_join_batches():
    import comfy.conds

    tokens = comfy.conds.CONDCrossAttn(torch.arange(6.0).reshape(1, 3, 2))
    longer = comfy.conds.CONDCrossAttn(torch.zeros(1, 6, 2))
    assert tokens.can_concat(longer) and not tokens.can_concat(comfy.conds.CONDCrossAttn(torch.zeros(1, 15, 2)))
    joined = tokens.concat([longer])
    assert joined.shape == (2, 6, 2) and torch.equal(joined[0, 3:], tokens.cond[0])  # repeated to the LCM
    latent_like = comfy.conds.CONDNoiseShape(torch.arange(16.0).reshape(1, 1, 4, 4))
    cropped = latent_like.process_cond(batch_size=3, area=(2, 2, 1, 2))
    assert cropped.size() == [3, 1, 2, 2] and torch.equal(cropped.cond[2, 0], torch.tensor([[6.0, 7.0], [10.0, 11.0]]))
    constant = comfy.conds.CONDConstant(5)
    assert constant.process_cond(batch_size=4).cond == 5 and constant.can_concat(comfy.conds.CONDConstant(5))
    assert not constant.can_concat(comfy.conds.CONDConstant(6)) and constant.size() == [1]
    pair = comfy.conds.CONDList([torch.zeros(1, 2), torch.ones(1, 3, 4)])
    fitted = pair.process_cond(batch_size=2)
    assert [c.shape for c in fitted.concat([fitted])] == [(4, 2), (4, 3, 4)]
    assert fitted.size() == [1, 3, (4 + 24) // 3]
