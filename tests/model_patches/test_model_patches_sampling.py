"""Model sampling objects against diffusers' schedulers and the papers' formulas: the
discrete table and zero-terminal-SNR (diffusers), LCM's distilled steps and boundary
scalings (LCMScheduler), continuous EDM / V σ and timesteps (their formulas), the
prediction mix-ins (Karras et al. 2022, Table 1), and the nodes that object-patch them."""

from __future__ import annotations

import math

import pytest
import torch

from comfy_core.sampling import predictions as pred
from comfy_core.sampling.model_sampling import (ModelSampling, ModelSamplingContinuousEDM, ModelSamplingContinuousV,
                                                ModelSamplingDiscrete, SamplingConfig)
from nodes.model_advanced import DISCRETE, ModelSamplingContinuousEDM as EDMNode, combined


def _diffusers_sigmas(zsnr: bool = False) -> torch.Tensor:
    from diffusers import DDPMScheduler

    s = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", rescale_betas_zero_snr=zsnr)
    ac = s.alphas_cumprod.double()
    return ((1 - ac) / ac) ** 0.5


@pytest.mark.parametrize("zsnr", [False, True])
def test_discrete_table_matches_diffusers(zsnr):
    ms = combined(*DISCRETE["v_prediction"])(None, zsnr=zsnr)
    ref = _diffusers_sigmas(zsnr).float()
    torch.testing.assert_close(ms.sigmas[:-1], ref[:-1], rtol=1e-4, atol=1e-6)
    if zsnr:  # diffusers' last ᾱ is exactly 0 (σ = ∞); ours is kept finite
        assert math.isinf(float(ref[-1])) and 4000 < float(ms.sigma_max) < 5000
    assert isinstance(ms, pred.V_PREDICTION) and isinstance(ms, ModelSamplingDiscrete)
    loader = ModelSampling(SamplingConfig(prediction="v", zsnr=zsnr))
    assert torch.equal(loader.sigmas, ms.sigmas) and isinstance(loader, pred.V_PREDICTION)


def test_lcm_steps_and_boundary_scalings_match_lcm_scheduler():
    from diffusers import LCMScheduler

    sched = LCMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    ms = combined(*DISCRETE["lcm"])()
    assert len(ms.sigmas) == 50
    sched.set_timesteps(50)
    assert ms.timestep(ms.sigmas).flip(0).long().tolist() == sched.timesteps.tolist()
    torch.testing.assert_close(ms.sigmas, _diffusers_sigmas().float()[ms.timestep(ms.sigmas).long()])
    g = torch.Generator().manual_seed(0)
    x, eps = torch.randn(3, 4, 4, 4, generator=g), torch.randn(3, 4, 4, 4, generator=g)
    sigma = ms.sigmas[torch.tensor([0, 20, 49])]
    out = ms.calculate_denoised(sigma, eps, x)
    for i, s in enumerate(sigma):
        c_skip, c_out = sched.get_scalings_for_boundary_condition_discrete(int(ms.timestep(s)))
        torch.testing.assert_close(out[i], c_out * (x[i] - s * eps[i]) + c_skip * x[i])


@pytest.mark.parametrize("cls,to_t", [(ModelSamplingContinuousEDM, lambda s: 0.25 * s.log()),
                                      (ModelSamplingContinuousV, lambda s: s.atan() * 2 / math.pi)])
def test_continuous_sigmas_follow_their_formulas(cls, to_t):
    ms = cls()
    ms.set_parameters(0.03, 500.0, 1.0)
    ref = torch.exp(torch.linspace(math.log(0.03), math.log(500.0), 1000))
    torch.testing.assert_close(ms.sigmas, ref)
    s = torch.tensor([0.05, 1.0, 80.0])
    torch.testing.assert_close(ms.timestep(s), to_t(s))
    torch.testing.assert_close(ms.sigma(ms.timestep(s)), s, rtol=1e-5, atol=1e-6)
    assert ms.percent_to_sigma(0.25) == pytest.approx(math.exp(math.log(500) + 0.25 * (math.log(0.03) - math.log(500))))
    assert ms.percent_to_sigma(0.0) > 1e8 and ms.percent_to_sigma(1.0) == 0.0


@pytest.mark.parametrize("sigma_data", [0.5, 1.0])
def test_edm_and_v_mixins_follow_karras_table_1(sigma_data):
    g = torch.Generator().manual_seed(1)
    x, f = torch.randn(2, 4, 3, 3, generator=g), torch.randn(2, 4, 3, 3, generator=g)
    sigma = torch.tensor([0.3, 7.0])
    s = sigma.view(-1, 1, 1, 1)
    c_skip = sigma_data**2 / (s**2 + sigma_data**2)
    c_out = s * sigma_data / (s**2 + sigma_data**2) ** 0.5
    c_in = 1 / (s**2 + sigma_data**2) ** 0.5
    for mixin, sign in ((pred.EDM, 1), (pred.V_PREDICTION, -1)):
        ms = combined(ModelSamplingContinuousEDM, mixin)()
        ms.set_parameters(0.002, 120.0, sigma_data)
        torch.testing.assert_close(ms.calculate_denoised(sigma, f, x), c_skip * x + sign * c_out * f)
        torch.testing.assert_close(ms.calculate_input(sigma, x), c_in * x)
    x0 = combined(ModelSamplingDiscrete, pred.X0)()
    assert torch.equal(x0.calculate_denoised(sigma, f, x), f)
    assert torch.equal(combined(ModelSamplingDiscrete, pred.IMG_TO_IMG)().calculate_input(sigma, x), x)


def test_continuous_edm_node_patches_sampling_and_latent_format():
    from comfy_core.models.latent_formats import SDXL_Playground_2_5
    from tiny_unet import tiny_model, tiny_unet

    model = tiny_model(tiny_unet())
    (patched,) = EDMNode().patch(model, "edm_playground_v2.5", 80.0, 0.002)
    ms = patched.get_model_object("model_sampling")
    assert isinstance(ms, pred.EDM) and ms.sigma_data == 0.5 and float(ms.sigma_max) == pytest.approx(80.0)
    assert isinstance(patched.get_model_object("latent_format"), SDXL_Playground_2_5)
    assert isinstance(model.get_model_object("model_sampling"), ModelSamplingDiscrete)  # original untouched
    latent = torch.randn(1, 4, 2, 2)
    mean = torch.tensor([-1.6574, 1.886, -1.383, 2.5155]).view(1, 4, 1, 1)
    std = torch.tensor([8.4927, 5.9022, 6.5498, 5.2299]).view(1, 4, 1, 1)
    fmt = SDXL_Playground_2_5()
    torch.testing.assert_close(fmt.process_in(latent), (latent - mean) * 0.5 / std)
    torch.testing.assert_close(fmt.process_out(fmt.process_in(latent)), latent)
