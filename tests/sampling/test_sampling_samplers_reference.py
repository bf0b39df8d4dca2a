"""Samplers against diffusers' schedulers on a toy analytic denoiser (the exact posterior
mean for Gaussian data), fed the same σ sequence and the same noise."""

import pytest
import torch
from diffusers import (
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    LMSDiscreteScheduler,
    UniPCMultistepScheduler,
)

from comfy_core.sampling.samplers import SAMPLERS

SD = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
SHAPE = (1, 2, 4, 4)
MU = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
S2 = 0.25  # data variance


def toy_denoiser(x, sigma):
    """E[x0 | x] for x0 ~ N(MU, S2·I), x = x0 + σ·n."""
    s = sigma.reshape(-1, 1, 1, 1) ** 2
    return (S2 * x + s * MU) / (S2 + s)


def sigma_of(sched, t):
    c_in = sched.scale_model_input(torch.ones(1), t)
    return ((1 / c_in) ** 2 - 1).sqrt().reshape(())


def run_diffusers(sched, x, vp=False, noises=None, steps=None):
    """Drive a diffusers scheduler with the toy model (ε-prediction); x in VE units; the
    first `steps` steps only when given."""
    noises = list(noises or [])
    for t in sched.timesteps[:steps]:
        sigma = sigma_of(sched, t) if not vp else sched.sigmas[sched.step_index or 0]
        x_ve = x if not vp else x * (1 + sigma**2) ** 0.5
        eps = (x_ve - toy_denoiser(x_ve, sigma.reshape(1))) / sigma
        kw = {"variance_noise": noises.pop(0)} if noises else {}
        x = sched.step(eps, t, x, **kw).prev_sample
    return x


def start(sigmas):
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(1)) * sigmas[0]


CASES = [
    ("euler", EulerDiscreteScheduler, {}),
    ("heun", HeunDiscreteScheduler, {}),
    ("lms", LMSDiscreteScheduler, {}),
    ("dpmpp_2m", DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2, "final_sigmas_type": "zero"}),
]


@pytest.mark.parametrize("name,cls,kw", CASES, ids=[c[0] for c in CASES])
def test_ode_samplers_match_diffusers(name, cls, kw):
    sched = cls(**SD, use_karras_sigmas=True, **kw)
    sched.set_timesteps(8)
    sigmas = torch.unique_consecutive(sched.sigmas.float())
    x0 = start(sigmas)
    vp = name == "dpmpp_2m"
    ref = run_diffusers(sched, x0 / ((1 + sigmas[0] ** 2) ** 0.5) if vp else x0, vp=vp)
    got = SAMPLERS[name].fn(toy_denoiser, x0, sigmas)
    if name == "lms":  # as ComfyUI: the step to σ = 0 returns D; the steps before it match
        sched.set_timesteps(8)
        ref = run_diffusers(sched, x0, steps=len(sigmas) - 2)
        got = SAMPLERS[name].fn(toy_denoiser, x0, sigmas[:-1])
        last = SAMPLERS[name].fn(toy_denoiser, x0, sigmas)
        torch.testing.assert_close(last, toy_denoiser(got, sigmas[-2:-1]))
    torch.testing.assert_close(got, ref, atol=2e-4, rtol=1e-4)


def test_euler_ancestral_matches_diffusers_with_same_generator():
    sched = EulerAncestralDiscreteScheduler(**SD)
    sched.set_timesteps(8)
    sigmas = sched.sigmas.float()
    x0 = start(sigmas)
    ref = x0
    gen = torch.Generator().manual_seed(5)
    for t in sched.timesteps:
        sigma = sigma_of(sched, t)
        eps = (ref - toy_denoiser(ref, sigma.reshape(1))) / sigma
        ref = sched.step(eps, t, ref, generator=gen).prev_sample
    g2 = torch.Generator().manual_seed(5)
    got = SAMPLERS["euler_ancestral"].fn(toy_denoiser, x0, sigmas, noise=lambda s, sn: torch.randn(SHAPE, generator=g2))
    torch.testing.assert_close(got, ref, atol=2e-4, rtol=1e-4)


def test_dpmpp_2m_sde_matches_diffusers_with_same_noise():
    sched = DPMSolverMultistepScheduler(**SD, algorithm_type="sde-dpmsolver++", use_karras_sigmas=True, final_sigmas_type="zero")
    sched.set_timesteps(8)
    sigmas = sched.sigmas.float()
    noises = [torch.randn(SHAPE, generator=torch.Generator().manual_seed(10 + i)) for i in range(8)]
    x0 = start(sigmas)
    ref = run_diffusers(sched, x0 / ((1 + sigmas[0] ** 2) ** 0.5), vp=True, noises=noises)
    it = iter(noises)
    got = SAMPLERS["dpmpp_2m_sde"].fn(toy_denoiser, x0, sigmas, noise=lambda s, sn: next(it))
    # diffusers works in VP units; its final σ is 0 so both are in data units.
    torch.testing.assert_close(got, ref, atol=5e-4, rtol=1e-4)


@pytest.mark.parametrize("name,solver", [("uni_pc", "bh1"), ("uni_pc_bh2", "bh2")])
def test_unipc_matches_diffusers(name, solver):
    sched = UniPCMultistepScheduler(**SD, solver_type=solver, solver_order=3, use_karras_sigmas=True, final_sigmas_type="sigma_min")
    sched.set_timesteps(8)
    sigmas = sched.sigmas.float()
    x0 = start(sigmas)
    ref_vp = run_diffusers(sched, x0 / ((1 + sigmas[0] ** 2) ** 0.5), vp=True)
    got = SAMPLERS[name].fn(toy_denoiser, x0, sigmas)
    torch.testing.assert_close(got, ref_vp * (1 + sigmas[-1] ** 2) ** 0.5, atol=5e-4, rtol=1e-4)
