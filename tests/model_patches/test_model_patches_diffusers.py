"""SAG, PAG and FreeU against diffusers: one guided evaluation of a tiny SD1-layout UNet
through our nodes and guider equals the guidance math of diffusers' SAG and PAG pipelines
(their attention processors, masking and combination) run on a diffusers UNet with the
same weights; FreeU's block patch equals diffusers' apply_freeu on the same tensors."""

from __future__ import annotations

import types

import pytest
import torch
from tiny_unet import diffusers_twin, guided, tiny_model, tiny_unet

from comfy_core.model_patches.unet_patches import FreeU
from comfy_core.sampling.model_sampling import ModelSampling
from nodes.model_patches import PerturbedAttentionGuidance, SelfAttentionGuidance

MS = ModelSampling()
T = 600  # the discrete timestep of the evaluation
CFG = 5.0


@pytest.fixture(scope="module")
def setup():
    unet = tiny_unet()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 4, 16, 16, generator=g) * 3
    pos, neg = torch.randn(1, 7, 24, generator=g), torch.randn(1, 7, 24, generator=g)
    return unet, diffusers_twin(unet), x, pos, neg


def _vp(x_ve: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return x_ve / (1 + sigma**2) ** 0.5  # x_t = √ᾱ·x in VE units


def _ddim():
    from diffusers import DDIMScheduler

    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")


def test_self_attention_guidance_matches_diffusers_sag_pipeline(setup):
    from diffusers.pipelines.deprecated.stable_diffusion_sag.pipeline_stable_diffusion_sag import (
        CrossAttnStoreProcessor, StableDiffusionSAGPipeline)

    unet, ref, x, pos, neg = setup
    sigma, scale = MS.sigmas[T], 0.75
    (model,) = SelfAttentionGuidance.execute(tiny_model(unet), scale=scale, blur_sigma=1.0).args
    ours = guided(model, pos, neg, CFG, x, float(sigma))

    store = CrossAttnStoreProcessor()
    ref.mid_block.attentions[0].transformer_blocks[0].attn1.set_processor(store)
    t = torch.tensor(T)
    pipe = types.SimpleNamespace(unet=ref, scheduler=_ddim())
    with torch.no_grad():
        eps_u, eps_c = ref(_vp(x, sigma).repeat(2, 1, 1, 1), t, encoder_hidden_states=torch.cat([neg, pos])).sample.chunk(2)
        uncond_attn = store.attention_probs.chunk(2)[0]
        x0 = StableDiffusionSAGPipeline.pred_x0(pipe, _vp(x, sigma), eps_u, t)
        degraded = StableDiffusionSAGPipeline.sag_masking(pipe, x0, uncond_attn, (8, 8), t, eps_u)  # middle block: 16 / 2
        degraded_eps = ref(degraded, t, encoder_hidden_states=neg).sample
    noise = eps_u + CFG * (eps_c - eps_u) + scale * (eps_u - degraded_eps)
    torch.testing.assert_close(ours, x - sigma * noise, rtol=1e-4, atol=1e-4)
    plain = guided(tiny_model(unet), pos, neg, CFG, x, float(sigma))
    assert (ours - plain).abs().max() > 1e-3  # the guidance did something


def test_perturbed_attention_guidance_matches_diffusers_pag(setup):
    from diffusers.models.attention_processor import AttnProcessor2_0, PAGCFGIdentitySelfAttnProcessor2_0
    from diffusers.pipelines.pag.pag_utils import PAGMixin

    unet, ref, x, pos, neg = setup
    sigma, scale = MS.sigmas[T], 2.0
    (model,) = PerturbedAttentionGuidance.execute(tiny_model(unet), scale=scale).args
    ours = guided(model, pos, neg, CFG, x, float(sigma))

    attn1 = ref.mid_block.attentions[0].transformer_blocks[0].attn1
    attn1.set_processor(PAGCFGIdentitySelfAttnProcessor2_0())  # rows [uncond, cond | perturbed cond]
    mixin = types.SimpleNamespace(_get_pag_scale=lambda t: scale)
    with torch.no_grad():
        batch = _vp(x, sigma).repeat(3, 1, 1, 1)
        eps = ref(batch, torch.tensor(T), encoder_hidden_states=torch.cat([neg, pos, pos])).sample
        noise = PAGMixin._apply_perturbed_attention_guidance(mixin, eps, True, CFG, T)
    attn1.set_processor(AttnProcessor2_0())
    torch.testing.assert_close(ours, x - sigma * noise, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("channels,index", [(128, 0), (64, 1)])
def test_freeu_block_patch_matches_diffusers_apply_freeu(channels, index):
    from diffusers.utils.torch_utils import apply_freeu

    g = torch.Generator().manual_seed(channels)
    h, hsp = torch.randn(2, channels, 8, 12, generator=g), torch.randn(2, channels // 2, 8, 12, generator=g)
    patch = FreeU(model_channels=32, b1=1.3, b2=1.4, s1=0.9, s2=0.2)
    ours = patch(h.clone(), hsp.clone(), {})
    theirs = apply_freeu(index, h.clone(), hsp.clone(), b1=1.3, b2=1.4, s1=0.9, s2=0.2)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b)
    other = torch.randn(2, 96, 8, 12)
    assert patch(other, hsp, {})[0] is other  # other widths untouched


def test_freeu_v2_scales_backbone_by_normalised_mean():
    """FreeU v2 (the authors' code): b' = 1 + (b−1)·(m − min m)/(max m − min m), m the
    channel mean per position, on the first half of the channels."""
    g = torch.Generator().manual_seed(3)
    h, hsp = torch.randn(1, 128, 6, 6, generator=g), torch.randn(1, 64, 6, 6, generator=g)
    out, _ = FreeU(32, b1=1.5, b2=1.4, s1=1.0, s2=1.0, v2=True)(h.clone(), hsp, {})
    m = h.mean(1)[0]
    weight = 1 + 0.5 * (m - m.min()) / (m.max() - m.min())
    torch.testing.assert_close(out[0, :64], h[0, :64] * weight)
    torch.testing.assert_close(out[0, 64:], h[0, 64:])
