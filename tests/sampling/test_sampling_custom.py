"""SamplerCustom's procedure, the GUIDER and the SAMPLER value in ComfyUI's protocols: a
built-in sampler run by the CFG guider gives KSampler's latent; k-diffusion's own functions
plug in as plugin samplers do; CFG++ reads the unconditional prediction through the post-CFG
hook; the other guiders combine their predictions by their formulas."""

import pytest
import torch
from function_model import MS, denoised_by_hand, function_model
from kdiffusion_reference import load

from comfy_core.sampling import guiders
from comfy_core.sampling.custom import run_guider, sample_custom
from comfy_core.sampling.guider import CFGGuider
from comfy_core.sampling.ksampler import sample, schedule_sigmas
from comfy_core.sampling.model_call import calc_cond_batch
from comfy_core.sampling.noise import prepare_noise
from comfy_core.sampling.sampler_value import SamplerValue, kdiffusion_function
from comfy_core.sampling.samplers import SAMPLERS

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
    return sample(function_model(LinearUNet()), POS, NEG, latent, seed=seed, steps=steps, cfg=cfg,
                  sampler_name=name, scheduler="karras")["samples"]


def model_of(unet):
    """A MODEL value whose network is the test function `unet`."""
    return function_model(unet)


class Seeded:
    def __init__(self, seed):
        self.seed = seed

    def generate_noise(self, latent):
        return prepare_noise(latent["samples"], self.seed)


def custom(sampler, name, latent, cfg=6.0, steps=4, seed=5, unet=None):
    sigmas = schedule_sigmas(MS, "karras", name, steps)
    guider = CFGGuider(model_of(unet or LinearUNet()))
    guider.set_conds(POS, NEG)
    guider.set_cfg(cfg)
    return run_guider(guider, latent, noise=Seeded(seed), sampler=sampler, sigmas=sigmas)


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
    latent = torch.randn(1, 4, 8, 8)
    out = sample_custom(model_of(LinearUNet()), torch.zeros(1, 4, 8, 8), 6.0, SamplerValue.builtin("euler"),
                        torch.zeros(0), POS, NEG, latent)
    assert out is latent


CTX = {name: torch.randn(1, 77, 8, generator=torch.Generator().manual_seed(20 + i))
       for i, name in enumerate(["a", "b", "c"])}


def cond(name):
    return [[CTX[name], {}]]


def one_step(guider, sigma=3.0):
    """One Euler step from σ to 0 returns the guider's denoised estimate at x = noise·σ;
    also the UNet's batch sizes and that x."""
    noise = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(8))
    out = guider.sample(noise, torch.zeros(1, 4, 8, 8), SamplerValue.builtin("euler"), torch.tensor([sigma, 0.0]))
    return out * 0.18215, noise * sigma


def raw(name, x, sigma=3.0):
    """The single-prompt denoised estimate D(x, σ) for context `name`."""
    return denoised_by_hand(LinearUNet(), x, torch.tensor([sigma]), CTX[name])


def make(cls, unet=None, options=None):
    model = model_of(unet or LinearUNet())
    model.model_options.update(options or {})
    return cls(model)


def test_guider_formulas_and_batches():
    unet = LinearUNet()
    g = make(CFGGuider, unet)
    g.set_conds(cond("a"), cond("b"))
    g.set_cfg(6.0)
    got, x = one_step(g)
    torch.testing.assert_close(got, raw("b", x) + (raw("a", x) - raw("b", x)) * 6.0, atol=1e-4, rtol=1e-4)
    assert unet.batches == [2]
    unet = LinearUNet()
    basic = make(guiders.BasicGuider, unet)
    basic.set_conds(cond("a"))
    torch.testing.assert_close(one_step(basic)[0], raw("a", x), atol=1e-4, rtol=1e-4)
    assert unet.batches == [1]


@pytest.mark.parametrize("nested", [False, True])
def test_dual_cfg_guider(nested):
    unet = LinearUNet()
    g = make(guiders.DualCFGGuider, unet)
    g.set_conds(cond("a"), cond("b"), cond("c"))
    g.set_cfg(2.0, 3.0, nested=nested)
    got, x = one_step(g)
    p, m, n = raw("a", x), raw("b", x), raw("c", x)
    expected = n + 3.0 * ((m + (p - m) * 2.0) - n) if nested else n + (m - n) * 3.0 + (p - m) * 2.0
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert unet.batches == [3]


def test_perp_neg_guider():
    g = make(guiders.PerpNegGuider)
    g.set_conds(cond("a"), cond("b"), cond("c"))
    g.set_cfg(5.0, 0.7)
    got, x = one_step(g)
    pos, neg, empty = raw("a", x) - raw("c", x), raw("b", x) - raw("c", x), raw("c", x)
    perpendicular = neg - (neg * pos).sum() / (pos * pos).sum() * pos  # Armandpour et al. 2023, eq. 5
    torch.testing.assert_close(got, empty + 5.0 * (pos - 0.7 * perpendicular), atol=1e-4, rtol=1e-4)


def test_post_cfg_hooks_from_the_models_options_and_plugin_guiders():
    seen = []

    def keep_cond(args):
        seen.append(sorted(args))
        return args["cond_denoised"]

    g = make(CFGGuider, options={"sampler_post_cfg_function": [keep_cond]})
    g.set_conds(cond("a"), cond("b"))
    g.set_cfg(6.0)
    got, x = one_step(g)
    torch.testing.assert_close(got, raw("a", x), atol=1e-4, rtol=1e-4)
    assert seen[0] == sorted(["denoised", "cond", "uncond", "cond_scale", "model", "uncond_denoised",
                              "cond_denoised", "sigma", "model_options", "input"])

    class NegativeOnly(CFGGuider):  # as plugins write them: override predict_noise
        def predict_noise(self, x, timestep, model_options={}, seed=None):
            return calc_cond_batch(self.inner_model, [self.conds.get("negative")], x, timestep, model_options)[0]

    plugin = make(NegativeOnly)
    plugin.set_conds(cond("a"), cond("b"))
    torch.testing.assert_close(one_step(plugin)[0], raw("b", x), atol=1e-4, rtol=1e-4)
