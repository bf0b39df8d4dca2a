"""SamplerCustom's procedure and the SAMPLER value's ComfyUI protocol: a built-in sampler
through `SamplerValue.sample` gives KSampler's latent; k-diffusion's own functions plug in as
plugin samplers do; CFG++ reads the unconditional prediction through the post-CFG hook."""

import pytest
import torch
from kdiffusion_reference import load

from comfy_core.sampling.custom import sample_custom
from comfy_core.sampling.ksampler import sample, schedule_sigmas
from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.sampling.noise import prepare_noise
from comfy_core.sampling.sampler_value import SamplerValue, kdiffusion_function
from comfy_core.sampling.samplers import SAMPLERS

MS = ModelSampling()
G = torch.Generator().manual_seed(0)
POS = [[torch.randn(1, 77, 8, generator=G), {}]]
NEG = [[torch.randn(1, 77, 8, generator=G), {}]]
MASK = torch.zeros(1, 64, 64)
MASK[:, 16:48, 16:48] = 1.0


class LinearUNet:
    """eps = 0.1·x + mean(context); counts batch sizes."""

    def __init__(self):
        self.batches = []

    def __call__(self, x, t, context, y):
        self.batches.append(x.shape[0])
        return 0.1 * x + context.mean(dim=(1, 2)).view(-1, 1, 1, 1)


def ksampler(name, latent, cfg=6.0, steps=4, seed=5):
    return sample(LinearUNet(), MS, POS, NEG, latent, seed=seed, steps=steps, cfg=cfg, sampler_name=name,
                  scheduler="karras", scale_factor=0.18215)["samples"]


def custom(sampler, name, latent, cfg=6.0, steps=4, seed=5, unet=None):
    sigmas = schedule_sigmas(MS, "karras", name, steps)
    noise = prepare_noise(latent["samples"], seed)
    out, denoised = sample_custom(unet or LinearUNet(), MS, POS, NEG, latent, sampler=sampler, sigmas=sigmas,
                                  noise=noise, cfg=cfg, seed=seed, scale_factor=0.18215)
    return out, denoised


CASES = [("euler", 6.0), ("euler_cfg_pp", 1.0), ("euler_cfg_pp", 4.0), ("dpmpp_2m_sde", 6.0), ("ddim", 6.0),
         ("sa_solver", 5.0), ("res_multistep_ancestral_cfg_pp", 1.0), ("dpm_2", 3.0), ("uni_pc", 6.0)]


@pytest.mark.parametrize("name,cfg", CASES, ids=[f"{n}-{c}" for n, c in CASES])
@pytest.mark.parametrize("masked", [False, True], ids=["txt2img", "inpaint"])
def test_builtin_sampler_value_gives_ksamplers_latent(name, cfg, masked):
    latent = {"samples": torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3))}
    if masked:
        latent["noise_mask"] = MASK
    else:
        latent["samples"] = torch.zeros(1, 4, 8, 8)
    out, denoised = custom(SamplerValue.builtin(name), name, latent, cfg=cfg)
    torch.testing.assert_close(out["samples"], ksampler(name, latent, cfg=cfg), atol=1e-5, rtol=1e-5)
    assert denoised["samples"].shape == out["samples"].shape


def test_cfg_pp_at_cfg_one_evaluates_the_negative_through_the_hook():
    unet = LinearUNet()
    custom(SamplerValue.builtin("euler_cfg_pp"), "euler_cfg_pp", {"samples": torch.zeros(1, 4, 8, 8)}, cfg=1.0,
           unet=unet)
    assert unet.batches == [2, 2, 2, 2]
    unet = LinearUNet()
    custom(SamplerValue.builtin("euler"), "euler", {"samples": torch.zeros(1, 4, 8, 8)}, cfg=1.0, unet=unet)
    assert unet.batches == [1, 1, 1, 1]


@pytest.mark.parametrize("name", ["euler", "dpmpp_2m", "heun", "dpm_2"])
def test_k_diffusion_functions_plug_in_like_plugin_samplers(name):
    """A SAMPLER made from k-diffusion's own function (as plugins make them) runs through
    the same protocol and lands on the built-in sampler's result."""
    function = getattr(load(), f"sample_{name}")
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    out, _ = custom(SamplerValue(function), name, latent)
    ours, _ = custom(SamplerValue.builtin(name), name, latent)
    torch.testing.assert_close(out["samples"], ours["samples"], atol=1e-5, rtol=1e-5)


def test_options_pass_through_and_unknown_options_are_refused():
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    calm, _ = custom(SamplerValue.builtin("euler_ancestral", {"eta": 0.0}), "euler_ancestral", latent)
    plain, _ = custom(SamplerValue.builtin("euler"), "euler", latent)
    torch.testing.assert_close(calm["samples"], plain["samples"], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="takes no option"):
        SamplerValue.builtin("euler_ancestral", {"r": 0.5})


def test_kdiffusion_view_calls_the_model_with_its_extra_args_and_reports_steps():
    seen, steps = [], []
    sigmas = schedule_sigmas(MS, "karras", "euler", 3)

    def model(x, sigma, **extra):
        seen.append(extra)
        return x * 0.5

    x = torch.ones(1, 4, 2, 2)
    got = kdiffusion_function("dpmpp_2m")(model, x, sigmas, extra_args={"seed": 1, "model_options": {"a": 1}},
                                          callback=steps.append)
    torch.testing.assert_close(got, SAMPLERS["dpmpp_2m"].fn(lambda v, s: v * 0.5, x, sigmas))
    assert seen == [{"seed": 1, "model_options": {"a": 1}}] * 3
    assert [s["i"] for s in steps] == [0, 1, 2] and set(steps[0]) == {"x", "i", "sigma", "sigma_hat", "denoised"}
    with pytest.raises(RuntimeError, match="post-CFG"):
        kdiffusion_function("euler_cfg_pp")(model, x, sigmas)


def test_no_sigmas_returns_the_latent_untouched():
    latent = {"samples": torch.randn(1, 4, 8, 8)}
    out, denoised = sample_custom(LinearUNet(), MS, POS, NEG, latent, sampler=SamplerValue.builtin("euler"),
                                  sigmas=torch.zeros(0), noise=torch.zeros(1, 4, 8, 8), cfg=6.0, seed=0,
                                  scale_factor=0.18215)
    assert out["samples"] is latent["samples"] and denoised["samples"] is latent["samples"]
