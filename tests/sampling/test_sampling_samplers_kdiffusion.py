"""The samplers against k-diffusion's own implementation (the `k-diffusion` package) on the
same denoiser, σ schedule, start and noise draws: directly where k-diffusion has the sampler
(dpm_fast, dpm_adaptive), and through the published special cases where a newer sampler
reduces to one k-diffusion has (SEEDS-2 at η = 0 is DPM-Solver++(2S), ER-SDE's first stage
is Euler or ancestral Euler, gradient estimation at γ = 1 is Euler, iPNDM on equal steps is
the Adams–Bashforth method of k-diffusion's LMS, CFG++ samplers on a plain denoiser are
their base samplers)."""

import math

import pytest
import torch
from kdiffusion_reference import Seq, load

from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.sampling.samplers import SAMPLERS
from comfy_core.sampling.schedules import sigmas_karras

K = load()
SHAPE = (2, 3, 4, 4)
MU = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
S2 = 0.25  # data variance


def toy(x, sigma):
    """E[x0 | x] for x0 ~ N(MU, S2·I) and x = x0 + σ·n: the ideal denoiser."""
    s = sigma.reshape(-1, 1, 1, 1) ** 2
    return (S2 * x + s * MU) / (S2 + s)


def start(sigma0):
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(1)) * float(sigma0)


def draws(n):
    g = torch.Generator().manual_seed(9)
    return [torch.randn(SHAPE, generator=g) for _ in range(n)]


KARRAS = sigmas_karras(ModelSampling(), 10)


def ours(name, sigmas=KARRAS, **options):
    return SAMPLERS[name].fn(toy, start(sigmas[0]), sigmas, **options)


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 7, 9])
def test_dpm_fast_matches_k_diffusion(steps):
    sigmas = sigmas_karras(ModelSampling(), steps)
    ref = K.sample_dpm_fast(toy, start(sigmas[0]), sigmas[-2], sigmas[0], steps, disable=True)
    torch.testing.assert_close(ours("dpm_fast", sigmas), ref, atol=1e-4, rtol=1e-4)


def test_dpm_fast_with_eta_matches_k_diffusion_on_the_same_noise():
    ref = K.sample_dpm_fast(toy, start(KARRAS[0]), KARRAS[-2], KARRAS[0], 10, eta=0.5, noise_sampler=Seq(draws(8)),
                            disable=True)
    torch.testing.assert_close(ours("dpm_fast", eta=0.5, noise=Seq(draws(8))), ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("options", [{}, {"order": 2}, {"order": 3, "rtol": 0.01, "atol": 0.001, "pcoeff": 0.2,
                                                         "icoeff": 0.8, "dcoeff": 0.1, "h_init": 0.2}])
def test_dpm_adaptive_matches_k_diffusion(options):
    ref = K.sample_dpm_adaptive(toy, start(KARRAS[0]), KARRAS[-2], KARRAS[0], disable=True, **options)
    torch.testing.assert_close(ours("dpm_adaptive", **options), ref, atol=1e-4, rtol=1e-4)


def test_dpm_adaptive_with_eta_matches_k_diffusion_on_the_same_noise():
    ref = K.sample_dpm_adaptive(toy, start(KARRAS[0]), KARRAS[-2], KARRAS[0], eta=0.3, noise_sampler=Seq(draws(200)),
                                disable=True)
    torch.testing.assert_close(ours("dpm_adaptive", eta=0.3, noise=Seq(draws(200))), ref, atol=1e-4, rtol=1e-4)


def test_seeds_2_without_noise_is_dpmpp_2s():
    ref = K.sample_dpmpp_2s_ancestral(toy, start(KARRAS[0]), KARRAS, eta=0.0, disable=True)
    torch.testing.assert_close(ours("seeds_2", eta=0.0), ref, atol=1e-5, rtol=1e-5)
    ref = K.sample_dpmpp_sde(toy, start(KARRAS[0]), KARRAS, eta=0.0, r=0.3, disable=True)
    torch.testing.assert_close(ours("seeds_2", eta=0.0, r=0.3), ref, atol=1e-5, rtol=1e-5)


def test_dpmpp_2s_ancestral_cfg_pp_on_a_plain_denoiser_is_dpmpp_2s_ancestral():
    ref = K.sample_dpmpp_2s_ancestral(toy, start(KARRAS[0]), KARRAS, noise_sampler=Seq(draws(10)), disable=True)
    torch.testing.assert_close(ours("dpmpp_2s_ancestral_cfg_pp", noise=Seq(draws(10))), ref, atol=1e-5, rtol=1e-5)


def test_er_sde_first_stage_is_euler_or_ancestral_euler():
    ref = K.sample_euler(toy, start(KARRAS[0]), KARRAS, disable=True)
    torch.testing.assert_close(ours("er_sde", max_stage=1, s_noise=0.0, noise_scaler=lambda v: v), ref,
                               atol=1e-5, rtol=1e-5)
    # s(λ) = λ² is the reverse-time SDE with η = 1: DDPM-like ancestral steps.
    ref = K.sample_euler_ancestral(toy, start(KARRAS[0]), KARRAS, noise_sampler=Seq(draws(10)), disable=True)
    got = ours("er_sde", max_stage=1, noise_scaler=lambda v: v**2, noise=Seq(draws(10)))
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)


def test_gradient_estimation_with_gamma_one_is_euler():
    ref = K.sample_euler(toy, start(KARRAS[0]), KARRAS, disable=True)
    torch.testing.assert_close(ours("gradient_estimation", ge_gamma=1.0), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours("gradient_estimation_cfg_pp", ge_gamma=1.0), ref, atol=1e-5, rtol=1e-5)


def test_deis_and_ipndm_at_first_order_are_euler():
    ref = K.sample_euler(toy, start(KARRAS[0]), KARRAS, disable=True)
    for name in ("deis", "ipndm", "ipndm_v"):
        torch.testing.assert_close(ours(name, max_order=1), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,order", [("ipndm", 4), ("ipndm_v", 3)])
def test_ipndm_on_equal_steps_is_adams_bashforth(name, order):
    """k-diffusion's LMS integrates the Lagrange interpolant of d: on equal σ steps that is
    the classical Adams–Bashforth method iPNDM uses (iPNDM-v up to order 3; its published
    fourth-order weights differ from AB4 even on equal steps)."""
    sigmas = torch.linspace(12.0, 0.5, 9, dtype=torch.float64)
    x = start(sigmas[0]).double()
    ref = K.sample_lms(lambda v, s: toy(v.float(), s.float()).double(), x, sigmas, order=order, disable=True)
    got = SAMPLERS[name].fn(lambda v, s: toy(v.float(), s.float()).double(), x, sigmas, max_order=order)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_ipndm_v_second_order_is_variable_step_adams_bashforth():
    sigmas = KARRAS[:-1].double()
    x = start(sigmas[0]).double()
    ref = K.sample_lms(lambda v, s: toy(v.float(), s.float()).double(), x, sigmas, order=2, disable=True)
    got = SAMPLERS["ipndm_v"].fn(lambda v, s: toy(v.float(), s.float()).double(), x, sigmas, max_order=2)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("base", ["res_multistep", "res_multistep_ancestral"])
def test_res_multistep_cfg_pp_on_a_plain_denoiser_is_the_base_sampler(base):
    torch.testing.assert_close(ours(base + "_cfg_pp", noise=Seq(draws(10))), ours(base, noise=Seq(draws(10))),
                               atol=1e-5, rtol=1e-5)


def test_res_multistep_is_exact_for_predictions_linear_in_log_sigma():
    """RES multistep integrates the exponential integrator exactly when D is linear in
    λ = −log σ (its weights are the exact integrals of the linear interpolant): after the
    first (Euler) step the error stays what that step made."""
    a, b = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3)).double(), 0.2

    def linear(x, sigma):
        return a + b * (-sigma.log()).reshape(-1, 1, 1, 1)

    def exact(x, s0, s1):  # x/σ along the ODE: d(x/σ)/dλ = e^λ·D(λ)
        l0, l1 = -math.log(s0), -math.log(s1)
        integral = a * (math.exp(l1) - math.exp(l0)) + b * ((l1 - 1) * math.exp(l1) - (l0 - 1) * math.exp(l0))
        return s1 * (x / s0 + integral)

    sigmas = torch.tensor([10.0, 6.0, 3.0, 1.0, 0.5, 0.2], dtype=torch.float64)
    first = SAMPLERS["res_multistep"].fn(linear, start(10.0).double(), sigmas[:2])
    got = SAMPLERS["res_multistep"].fn(linear, start(10.0).double(), sigmas)
    torch.testing.assert_close(got, exact(first, 6.0, 0.2), atol=1e-9, rtol=1e-9)
