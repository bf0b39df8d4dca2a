"""Schedules against COMPAT 9.5's formulas and SD1 reference tables; model sampling
against COMPAT 9.3 and diffusers' scheduler tables."""

import math

import pytest
import torch

from comfy_core.sampling.model_sampling import ModelSampling, SamplingConfig
from comfy_core.sampling.schedules import SCHEDULER_NAMES, SCHEDULERS, calculate_sigmas

MS = ModelSampling()


def test_sigma_table_matches_compat_and_diffusers():
    from diffusers import EulerDiscreteScheduler

    assert float(MS.sigma_min) == pytest.approx(0.0291672, rel=1e-5)
    assert float(MS.sigma_max) == pytest.approx(14.614641, rel=1e-6)
    ref = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    ab = ref.alphas_cumprod.double()
    torch.testing.assert_close(MS.sigmas, (((1 - ab) / ab) ** 0.5).float(), rtol=5e-5, atol=0)


def test_timestep_is_nearest_log_sigma_and_sigma_interpolates():
    for t in (0, 1, 500, 998, 999):
        assert float(MS.timestep(MS.sigmas[t])) == t
    assert float(MS.timestep(torch.tensor(1e6))) == 999
    mid = float(MS.sigma(torch.tensor(10.5)))
    expected = math.exp(0.5 * (float(MS.log_sigmas[10]) + float(MS.log_sigmas[11])))
    assert mid == pytest.approx(expected, rel=1e-6)
    ts = MS.timestep(torch.tensor([14.0, 0.03]))
    assert ts.dtype == torch.float32 and ts.shape == (2,)


def test_percent_to_sigma_edges():
    assert MS.percent_to_sigma(0.0) == 999999999.9
    assert MS.percent_to_sigma(1.0) == 0.0
    assert MS.percent_to_sigma(0.5) == pytest.approx(float(MS.sigma(torch.tensor(499.5))))


def test_zsnr_sigmas_are_diffusers_rescale_with_the_last_alpha_pinned():
    """Zero terminal SNR (Lin et al. 2023, Alg. 1) against diffusers' own
    `rescale_zero_terminal_snr` on the same betas; diffusers' last ᾱ is exactly 0 (σ = ∞),
    ComfyUI pins it to 4.8973451890853435e-08 so σ_max stays finite (COMPAT 9.3)."""
    from diffusers.schedulers.scheduling_ddim import rescale_zero_terminal_snr

    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1 - rescale_zero_terminal_snr(betas), dim=0)
    assert float(alphas_cumprod[-1]) == 0.0
    ref = ((1 - alphas_cumprod[:-1]) / alphas_cumprod[:-1]).sqrt()
    zs = ModelSampling(SamplingConfig(zsnr=True))
    torch.testing.assert_close(zs.sigmas[:-1].double(), ref, rtol=1e-6, atol=0)
    last_ab = 1 / (float(zs.sigmas[-1]) ** 2 + 1)
    assert last_ab == pytest.approx(4.8973451890853435e-08, rel=1e-6)
    assert float(zs.sigmas[0]) == pytest.approx(float(MS.sigmas[0]), rel=1e-4)


def test_prediction_scalings():
    x, out, s = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3), torch.tensor([2.0, 0.5])
    sv = s.view(2, 1, 1, 1)
    torch.testing.assert_close(MS.calculate_input(s, x), x / (sv**2 + 1).sqrt())
    torch.testing.assert_close(MS.calculate_denoised(s, out, x), x - out * sv)
    v = ModelSampling(SamplingConfig(prediction="v"))
    torch.testing.assert_close(
        v.calculate_denoised(s, out, x), x / (sv**2 + 1) - out * sv / (sv**2 + 1).sqrt()
    )
    noise, lat = torch.ones(1, 1, 1, 1), torch.zeros(1, 1, 1, 1)
    assert float(MS.noise_scaling(torch.tensor(3.0), noise, lat, max_denoise=True)) == pytest.approx(10**0.5)
    assert float(MS.noise_scaling(torch.tensor(3.0), noise, lat)) == 3.0
    with pytest.raises(ValueError, match="prediction"):
        ModelSampling(SamplingConfig(prediction="x0"))


REFERENCE = {
    "karras": [14.61464, 9.10293, 5.47839, 3.1686, 1.74942, 0.91407, 0.44692, 0.2014, 0.08191, 0.02917, 0],
    "normal": [14.61464, 7.83988, 4.60917, 2.91831, 1.95016, 1.34493, 0.93236, 0.62498, 0.36866, 0.02917, 0],
    "simple": [14.61464, 8.3028, 5.08776, 3.32108, 2.27646, 1.61289, 1.16058, 0.82986, 0.56928, 0.34167, 0],
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_tables(name):
    got = calculate_sigmas(MS, name, 10)
    torch.testing.assert_close(got, torch.tensor(REFERENCE[name]), atol=1e-4, rtol=1e-5)


def test_scheduler_order_and_shapes():
    assert SCHEDULER_NAMES == (
        "simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
        "linear_quadratic", "kl_optimal",
    )
    for name in SCHEDULERS:
        for steps in (1, 7, 20):
            s = calculate_sigmas(MS, name, steps)
            assert s.dtype == torch.float32 and float(s[-1]) == 0.0, name
            assert bool((s[:-1] > s[1:]).all()), name
            if name not in ("beta", "ddim_uniform"):
                assert len(s) == steps + 1, name
    with pytest.raises(ValueError, match="unknown scheduler 'nope'"):
        calculate_sigmas(MS, "nope", 5)


def test_formulas():
    n = 10
    exp = calculate_sigmas(MS, "exponential", n)
    torch.testing.assert_close(exp[:-1], torch.linspace(math.log(14.614641), math.log(0.0291672), n).exp(), rtol=1e-5, atol=0)
    ddim = calculate_sigmas(MS, "ddim_uniform", n)
    assert float(ddim[0]) == pytest.approx(8.3907, abs=1e-4)
    assert [round(float(v), 5) for v in ddim[:-1]] == [round(float(MS.sigmas[t]), 5) for t in range(901, 0, -100)]
    sgm = calculate_sigmas(MS, "sgm_uniform", n)
    ts = torch.linspace(999, 0, n + 1)[:-1]
    torch.testing.assert_close(sgm[:-1], torch.stack([MS.sigma(t) for t in ts]))
    kl = calculate_sigmas(MS, "kl_optimal", n)
    i = torch.arange(n) / (n - 1)
    expected = torch.tan(i * math.atan(float(MS.sigma_min)) + (1 - i) * math.atan(float(MS.sigma_max)))
    torch.testing.assert_close(kl[:-1], expected, rtol=1e-5, atol=1e-6)
    lq = calculate_sigmas(MS, "linear_quadratic", n)
    assert float(lq[1]) == pytest.approx(float(MS.sigma_max) * (1 - 0.025 / 5), rel=1e-6)
    assert calculate_sigmas(MS, "linear_quadratic", 1).tolist() == pytest.approx([14.614641, 0.0], rel=1e-6)


def test_beta_schedule_uses_beta_quantiles():
    from scipy import stats

    s = calculate_sigmas(MS, "beta", 10)
    ts = [round(float(stats.beta.ppf(1 - i / 10, 0.6, 0.6)) * 999) for i in range(10)]
    assert s[:-1].tolist() == [float(MS.sigmas[t]) for t in ts]
    assert float(s[0]) == float(MS.sigma_max)
