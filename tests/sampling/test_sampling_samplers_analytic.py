"""Samplers k-diffusion lacks, checked on a problem with a known solution: Gaussian data
x0 ~ N(μ, s²), whose ideal denoiser D(x, σ) = (s²x + σ²μ)/(s² + σ²) is linear, so the
probability-flow ODE has the closed form x(σ) = μ + (x(σ_0) − μ)·√((s² + σ²)/(s² + σ_0²)) and
every correct sampler (ODE or SDE) maps N(μ, s² + σ_0²) onto N(μ, s²).

ODE samplers: the error against the exact solution must fall at the method's order when the
step count doubles (a wrong weight anywhere drops the order). SDE samplers: the samples at
σ = 0 must have the data's mean and variance (a wrong noise scale shows in the variance)."""

import math

import pytest
import torch

from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.sampling.samplers import SAMPLERS
from comfy_core.sampling.samplers_adams import deis_weights
from comfy_core.sampling.schedules import sigmas_karras

MS = ModelSampling()
S2 = 0.25
MU = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(0)).double()


def gaussian(x, sigma):
    s = sigma.reshape(-1, 1, 1, 1) ** 2
    return (S2 * x + s * MU) / (S2 + s)


def exact(x0, s0, s1):
    return MU + (x0 - MU) * math.sqrt((S2 + s1**2) / (S2 + s0**2))


def error(name, steps, **options):
    sigmas = torch.exp(torch.linspace(math.log(10.0), math.log(0.05), steps + 1)).double()
    x0 = torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(1)).double() * 10
    spec = SAMPLERS[name]
    out = spec.fn(gaussian, x0, sigmas, seed=0, **spec.options_for(MS, options))
    return float((out - exact(x0, 10.0, 0.05)).abs().max())


ODE = {  # name, options -> order of convergence the method must reach (16 -> 64 steps)
    ("ipndm", ()): 1.8,
    ("ipndm_v", ()): 1.8,
    ("deis", ()): 2.5,
    ("deis", (("max_order", 2),)): 1.8,
    ("res_multistep", ()): 1.8,
    ("res_multistep_cfg_pp", ()): 1.8,
    ("exp_heun_2_x0", ()): 1.8,
    ("exp_heun_2_x0", (("solver_type", "phi_1"),)): 1.8,
    ("seeds_2", (("eta", 0.0),)): 1.8,
    ("seeds_2", (("eta", 0.0), ("solver_type", "phi_2"), ("r", 0.7))): 1.8,
    ("seeds_3", (("eta", 0.0),)): 2.5,
    ("er_sde", (("s_noise", 0.0), ("noise_scaler", lambda v: v))): 1.8,
    ("er_sde", (("s_noise", 0.0), ("noise_scaler", lambda v: v), ("max_stage", 2))): 1.8,
    ("sa_solver", (("tau_func", lambda s: 0.0),)): 3.0,
    ("sa_solver", (("tau_func", lambda s: 0.0), ("simple_order_2", True), ("predictor_order", 2),
                   ("corrector_order", 2))): 1.8,
    ("sa_solver_pece", (("tau_func", lambda s: 0.0),)): 3.5,
    ("gradient_estimation", ()): 0.7,
    ("gradient_estimation_cfg_pp", ()): 0.7,
}


@pytest.mark.parametrize("case", list(ODE), ids=[f"{n}-{len(o)}" for n, o in ODE])
def test_ode_samplers_converge_at_their_order(case):
    name, options = case
    coarse, fine = error(name, 16, **dict(options)), error(name, 64, **dict(options))
    assert fine < 5e-2
    assert math.log2(coarse / fine) / 2 >= ODE[case], (coarse, fine)


SDE = [
    ("exp_heun_2_x0_sde", {}),
    ("seeds_2", {}),
    ("seeds_2", {"solver_type": "phi_2", "r": 0.7, "eta": 0.5}),
    ("seeds_3", {}),
    ("er_sde", {}),
    ("er_sde", {"noise_scaler": lambda v: v**2}),
    ("sa_solver", {}),
    ("sa_solver_pece", {}),
    ("res_multistep_ancestral", {}),
    ("res_multistep_ancestral", {"eta": 0.5}),
    ("res_multistep_ancestral_cfg_pp", {}),
]


@pytest.mark.parametrize("name,options", SDE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SDE)])
def test_sde_samplers_reach_the_data_distribution(name, options):
    sigmas = sigmas_karras(MS, 30)
    mean, var = 0.5, S2
    x0 = mean + torch.randn(1, 1, 128, 128, generator=torch.Generator().manual_seed(1)) * math.sqrt(
        var + float(sigmas[0]) ** 2)
    spec = SAMPLERS[name]
    run = lambda seed: spec.fn(lambda x, s: (var * x + s.reshape(-1, 1, 1, 1) ** 2 * mean) / (var + s.reshape(
        -1, 1, 1, 1) ** 2), x0, sigmas, seed=seed, **spec.options_for(MS, options))
    out = run(3)
    assert abs(float(out.mean()) - mean) < 0.015
    assert abs(float(out.var()) - var) < 0.02
    assert float((run(4) - out).abs().mean()) > 1e-3  # the noise is drawn from the seed


def test_deis_weights_are_the_integrals_of_the_lagrange_basis_against_dsigma():
    """DEIS's weights ∫ L_j(t) (dσ/dt) dt, evaluated with an accurate quadrature of the same
    integrand (σ(t) of the VP SDE), agree with the 10⁴-point sums; they sum to Δσ."""
    from scipy import integrate

    from comfy_core.sampling.samplers_adams import deis_vp_time

    sigmas = sigmas_karras(MS, 8).double().numpy()
    t, b0, b1 = deis_vp_time(sigmas)
    sigma_of_t = lambda tau: math.sqrt(math.exp(0.5 * (b1 - b0) * tau**2 + b0 * tau) - 1)
    for i, order in ((1, 2), (4, 3), (6, 3)):
        got = deis_weights(sigmas, i, order)
        nodes = [t[i - k] for k in range(order)]
        for j in range(order):
            basis = lambda tau: math.prod((tau - n) / (nodes[j] - n) for k, n in enumerate(nodes) if k != j)
            dsigma = lambda tau: (sigma_of_t(tau + 1e-7) - sigma_of_t(tau - 1e-7)) / 2e-7
            ref = integrate.quad(lambda tau: basis(tau) * dsigma(tau), t[i], t[i + 1], epsrel=1e-10)[0]
            assert got[j] == pytest.approx(ref, rel=2e-3, abs=1e-6)
        assert sum(got) == pytest.approx(sigmas[i + 1] - sigmas[i], rel=2e-3)
