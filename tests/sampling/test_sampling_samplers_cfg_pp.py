"""Samplers k-diffusion lacks, against references built another way: the CFG++ samplers
(Chung et al. 2024, "CFG++: Manifold-constrained Classifier Free Guidance") and heunpp2.

CFG++ takes the clean estimate x̂₀ from the guided prediction D_c but renoises along the
unconditional one, ε_∅ = (x − D_u)/σ: the paper's DDIM step (Alg. 1) is
x_{t−1} = √ᾱ_{t−1}·x̂₀ + √(1 − ᾱ_{t−1})·ε_∅. The references below are that step written in
the paper's VP units, k-diffusion's own samplers fed a denoiser that turns the split into
their update (an Euler step to σ' from D' = (σ·D_c − σ'·D_u)/(σ − σ') lands on D_c + σ'·ε_∅),
and, for the multistep CFG++ samplers k-diffusion has no base for, ComfyUI's published
update written out per step. All run on a guided denoiser whose unconditional prediction
differs from the CFG result; the stochastic samplers get only the seed, their references
COMPAT 9.2's noise for that seed.

heunpp2 (ComfyUI's sampler from the sd-webui-samplers-scheduler extension; no paper, no
k-diffusion version) is checked against its published rule written out per step, with the
σ of every model evaluation recorded."""

import math

import pytest
import torch
from kdiffusion_reference import comfy_gaussian, load

from comfy_core.sampling.model_sampling import ModelSampling
from comfy_core.sampling.sampler_base import Guided
from comfy_core.sampling.samplers import SAMPLERS
from comfy_core.sampling.schedules import sigmas_karras

K = load()
SHAPE = (2, 3, 6, 6)
G = torch.Generator().manual_seed(0)
MU_C, MU_U = torch.randn(SHAPE, generator=G), torch.randn(SHAPE, generator=G)
SIGMAS = sigmas_karras(ModelSampling(), 8)
SEED = 4321  # the stochastic samplers get only the seed; references get COMPAT 9.2's noise for it


def posterior(x, sigma, mu, bend):
    s = sigma.reshape(-1, 1, 1, 1)
    return (0.25 * x + s**2 * mu) / (0.25 + s**2) + bend * torch.tanh(x / (1 + s)) * s / (1 + s)


class TwoSided:
    """A guided denoiser: D_c and D_u differ (other mean, other nonlinearity); a plain call
    gives the CFG result D_u + g·(D_c − D_u), `guided` also the unconditional prediction."""

    def __init__(self, g: float = 3.0) -> None:
        self.g = g

    def uncond(self, x, sigma):
        return posterior(x, sigma, MU_U, -0.1)

    def __call__(self, x, sigma):
        u = self.uncond(x, sigma)
        return u + self.g * (posterior(x, sigma, MU_C, 0.2) - u)

    def guided(self, x, sigma):
        return Guided(self(x, sigma), self.uncond(x, sigma))


def start(sigma0=SIGMAS[0]):
    return torch.randn(SHAPE, generator=torch.Generator().manual_seed(1)) * float(sigma0)


def at(sigmas, sigma):
    """The schedule index of σ (the denoiser is only called at schedule points here)."""
    return int(torch.argmin((sigmas - float(sigma.reshape(-1)[0])).abs()))


def test_euler_cfg_pp_is_the_papers_ddim_step():
    """CFG++ Alg. 1 in VP units: ᾱ = 1/(1 + σ²), x_vp = √ᾱ·x."""
    model = TwoSided()
    x = start()
    for i in range(len(SIGMAS) - 1):
        s, s_next = SIGMAS[i], SIGMAS[i + 1]
        c, u = model.guided(x, s.reshape(1).expand(SHAPE[0]))
        eps_u = (x - u) / s  # ε is the same in VE and VP units
        ab_next = 1 / (1 + s_next**2)
        x_vp = ab_next.sqrt() * c + (1 - ab_next).sqrt() * eps_u
        x = x_vp / ab_next.sqrt()
    torch.testing.assert_close(SAMPLERS["euler_cfg_pp"].fn(model, start(), SIGMAS), x, atol=2e-5, rtol=2e-5)


def split_as_plain(model, sigmas, eta):
    """The denoiser D' for which k-diffusion's Euler/ancestral step down to σ_down lands on
    D_c + σ_down·ε_∅ (the CFG++ split); σ_down = 0 gives D_c."""

    def plain(x, sigma):
        i = at(sigmas, sigma)
        down, _ = K.get_ancestral_step(sigmas[i], sigmas[i + 1], eta=eta)
        c, u = model.guided(x, sigma)
        return (sigmas[i] * c - down * u) / (sigmas[i] - down)

    return plain


@pytest.mark.parametrize("eta,s_noise", [(1.0, 1.0), (0.5, 0.8)])
def test_euler_ancestral_cfg_pp_is_k_diffusions_ancestral_euler_on_the_split(eta, s_noise):
    model = TwoSided()
    ref = K.sample_euler_ancestral(split_as_plain(model, SIGMAS, eta), start(), SIGMAS, eta=eta, s_noise=s_noise,
                                   noise_sampler=comfy_gaussian(start(), SEED), disable=True)
    got = SAMPLERS["euler_ancestral_cfg_pp"].fn(model, start(), SIGMAS, eta=eta, s_noise=s_noise, seed=SEED)
    torch.testing.assert_close(got, ref, atol=2e-5, rtol=2e-5)
    ode = K.sample_euler(split_as_plain(model, SIGMAS, 0.0), start(), SIGMAS, disable=True)
    torch.testing.assert_close(SAMPLERS["euler_cfg_pp"].fn(model, start(), SIGMAS), ode, atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize("gamma", [1.0, 2.0, 2.5])
def test_gradient_estimation_cfg_pp_is_euler_cfg_pp_plus_the_gradient_correction(gamma):
    """Permenter & Yuan 2024: after the first step, add (γ − 1)·(d − d_prev)·Δσ with d the
    direction the step took (here ε_∅); the step to σ = 0 returns D_c."""
    model = TwoSided()
    plain = split_as_plain(model, SIGMAS, 0.0)
    x, d_prev = start(), None
    for i in range(len(SIGMAS) - 1):
        s, s_next = SIGMAS[i], SIGMAS[i + 1]
        c, u = model.guided(x, s.reshape(1).expand(SHAPE[0]))
        d = (x - u) / s
        x_next = K.sample_euler(plain, x, SIGMAS[i:i + 2], disable=True)  # one CFG++ Euler step
        if d_prev is not None and s_next > 0:
            x_next = x_next + (gamma - 1) * (d - d_prev) * (s_next - s)
        x, d_prev = x_next, d
    got = SAMPLERS["gradient_estimation_cfg_pp"].fn(model, start(), SIGMAS, ge_gamma=gamma)
    torch.testing.assert_close(got, x, atol=3e-5, rtol=3e-5)


@pytest.mark.parametrize("eta,s_noise", [(1.0, 1.0), (0.6, 1.2)])
def test_dpmpp_2s_ancestral_cfg_pp_is_k_diffusions_2s_on_the_uncond_plus_the_guidance(eta, s_noise):
    """Both DPM-Solver++(2S) stages follow the unconditional prediction (k-diffusion's step
    on D_u alone, with its noise), then the step's guidance D_c − D_u at its start is added."""
    model = TwoSided()
    noise = comfy_gaussian(start(), SEED)
    x = start()
    for i in range(len(SIGMAS) - 1):
        c, u = model.guided(x, SIGMAS[i].reshape(1).expand(SHAPE[0]))
        x = K.sample_dpmpp_2s_ancestral(model.uncond, x, SIGMAS[i:i + 2], eta=eta, s_noise=s_noise,
                                        noise_sampler=noise, disable=True) + (c - u)
    got = SAMPLERS["dpmpp_2s_ancestral_cfg_pp"].fn(model, start(), SIGMAS, eta=eta, s_noise=s_noise, seed=SEED)
    torch.testing.assert_close(got, x, atol=3e-5, rtol=3e-5)


def test_dpmpp_2m_cfg_pp_step_rule_and_plain_case():
    """DPM-Solver++(2M) with the CFG++ split, as ComfyUI publishes it: with e^{−h} = σ'/σ,
    x' = D_c + e^{−h}·(x − D_u) + (1 − e^{−h})/(2r)·(D_c − D_u,prev) after the first step
    (r = h_prev/h), and x' = D_c on the step to 0. With D_c = D_u it is k-diffusion's 2M."""
    model = TwoSided()
    x, u_prev = start().double(), None
    sig = SIGMAS.double()
    for i in range(len(sig) - 1):
        c, u = (t.double() for t in model.guided(x.float(), SIGMAS[i].reshape(1).expand(SHAPE[0])))
        s, s_next = float(sig[i]), float(sig[i + 1])
        if s_next == 0:
            x = c
            continue
        ratio = s_next / s
        x_next = c + ratio * (x - u)
        if u_prev is not None:
            r = math.log(float(sig[i - 1]) / s) / math.log(s / s_next)
            x_next = x_next + (1 - ratio) / (2 * r) * (c - u_prev)
        x, u_prev = x_next, u
    got = SAMPLERS["dpmpp_2m_cfg_pp"].fn(model, start(), SIGMAS)
    torch.testing.assert_close(got.double(), x, atol=5e-5, rtol=5e-5)
    plain = K.sample_dpmpp_2m(lambda v, s: posterior(v, s, MU_C, 0.2), start(), SIGMAS, disable=True)
    torch.testing.assert_close(SAMPLERS["dpmpp_2m_cfg_pp"].fn(OneSided(), start(), SIGMAS), plain,
                               atol=2e-5, rtol=2e-5)


class OneSided(TwoSided):
    """D_u = D_c (what a guider gives when both sides see the same conditioning)."""

    def uncond(self, x, sigma):
        return posterior(x, sigma, MU_C, 0.2)


def res_weights(h, c2):
    """RES (Zhang et al. 2023) second-order weights for a step of length h in λ = −log σ
    with the previous node at c2·h: b₁ = φ₁(−h) − φ₂(−h)/c2, b₂ = φ₂(−h)/c2."""
    phi1 = (math.exp(-h) - 1) / -h
    phi2 = (phi1 - 1) / -h
    return phi1 - phi2 / c2, phi2 / c2


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_res_multistep_cfg_pp_step_rule(eta):
    """RES multistep with CFG++ as ComfyUI publishes it: the first step (and the last) is
    the CFG++ Euler step to σ_down; the others add the guidance D_c − D_u to x and take the
    RES step on the unconditional predictions (current and previous); then ancestral noise."""
    model = TwoSided()
    noise = comfy_gaussian(start(), SEED)
    x, u_prev, down_prev = start(), None, None
    for i in range(len(SIGMAS) - 1):
        s, s_next = SIGMAS[i], SIGMAS[i + 1]
        c, u = model.guided(x, s.reshape(1).expand(SHAPE[0]))
        down, up = K.get_ancestral_step(s, s_next, eta=eta)
        if u_prev is None or down == 0:
            x = c + (x - u) / s * down
        else:
            h = math.log(float(s) / float(down))
            c2 = math.log(float(down_prev) / float(SIGMAS[i - 1])) / h
            b1, b2 = res_weights(h, c2)
            x = math.exp(-h) * (x + c - u) + h * (b1 * u + b2 * u_prev)
        if s_next > 0 and eta > 0:
            x = x + noise(s, s_next) * up
        u_prev, down_prev = u, down
    name = "res_multistep_ancestral_cfg_pp" if eta else "res_multistep_cfg_pp"
    options = {"eta": eta} if eta else {}
    got = SAMPLERS[name].fn(model, start(), SIGMAS, seed=SEED, **options)
    torch.testing.assert_close(got, x, atol=5e-5, rtol=5e-5)


class Recording:
    def __init__(self, inner):
        self.inner, self.sigmas = inner, []

    def __call__(self, x, sigma):
        self.sigmas.append(round(float(sigma[0]), 5))
        return self.inner(x, sigma)


def test_heunpp2_step_rule_and_evaluation_points():
    """heunpp2: Euler predictors to σ_{i+1} and σ_{i+2}, the three slopes weighted
    1 − w₂ − w₃, w₂ = σ_{i+1}/(3σ₀), w₃ = σ_{i+2}/(3σ₀); the step before the last uses two
    slopes with w₂ = σ_{i+1}/(2σ₀); the last step is Euler."""
    model = TwoSided()
    sig = SIGMAS.double()
    x = start().double()
    n = len(sig) - 1

    def slope(v, i):
        return (v - model(v.float(), SIGMAS[i].reshape(1).expand(SHAPE[0])).double()) / sig[i]

    for i in range(n):
        dt = sig[i + 1] - sig[i]
        d1 = slope(x, i)
        if i == n - 1:
            x = x + d1 * dt
            continue
        x2 = x + d1 * dt
        d2 = slope(x2, i + 1)
        if i == n - 2:
            w2 = sig[i + 1] / (2 * sig[0])
            x = x + ((1 - w2) * d1 + w2 * d2) * dt
            continue
        d3 = slope(x2 + d2 * (sig[i + 2] - sig[i + 1]), i + 2)
        w2, w3 = sig[i + 1] / (3 * sig[0]), sig[i + 2] / (3 * sig[0])
        x = x + ((1 - w2 - w3) * d1 + w2 * d2 + w3 * d3) * dt
    recording = Recording(model)
    got = SAMPLERS["heunpp2"].fn(recording, start(), SIGMAS)
    torch.testing.assert_close(got.double(), x, atol=5e-5, rtol=5e-5)
    s = [round(float(v), 5) for v in SIGMAS]
    expected = [v for i in range(n - 2) for v in (s[i], s[i + 1], s[i + 2])] + [s[n - 2], s[n - 1], s[n - 1]]
    assert recording.sigmas == expected
