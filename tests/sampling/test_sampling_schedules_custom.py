"""The custom-sampling schedules and σ tools: the parametric schedules against k-diffusion's
`get_sigmas_*`, Laplace against its formula, the published schedules (Align Your Steps,
GITS, SD-Turbo) against their tables, and the σ tools exactly."""

import math

import numpy as np
import pytest
import torch
from kdiffusion_reference import load

from comfy_core.sampling import schedules, schedules_published, sigma_tools
from comfy_core.sampling.model_sampling import ModelSampling

K = load()
MS = ModelSampling()


@pytest.mark.parametrize("steps", [1, 5, 20])
def test_parametric_schedules_match_k_diffusion(steps):
    torch.testing.assert_close(schedules.karras(steps, 0.03, 14.6, 5.0), K.get_sigmas_karras(steps, 0.03, 14.6, 5.0))
    torch.testing.assert_close(schedules.exponential(steps, 0.03, 14.6), K.get_sigmas_exponential(steps, 0.03, 14.6))
    torch.testing.assert_close(schedules.polyexponential(steps, 0.03, 14.6, 2.0),
                               K.get_sigmas_polyexponential(steps, 0.03, 14.6, 2.0))
    torch.testing.assert_close(schedules.vp(steps, 19.9, 0.1, 1e-3), K.get_sigmas_vp(steps, 19.9, 0.1, 1e-3))


def test_laplace_schedule_formula_and_log_spaced_errors():
    got = schedules.laplace(7, 0.03, 14.6, mu=0.5, beta=0.8)
    for i, v in enumerate(got.tolist()):
        x = i / 6
        lam = 0.5 - 0.8 * math.copysign(1, 0.5 - x) * math.log(1 - 2 * abs(0.5 - x) + 1e-5) if x != 0.5 else 0.5
        assert v == pytest.approx(min(max(math.exp(lam), 0.03), 14.6), rel=1e-5)
    assert len(got) == 7  # no appended zero
    with pytest.raises(ValueError, match="positive sigmas"):
        schedules.exponential(5, 0.0, 14.6)


def test_align_your_steps_tables_interpolation_and_denoise():
    sd1 = schedules_published.align_your_steps("SD1", 10)
    expected = list(schedules_published.AYS_NOISE_LEVELS["SD1"][:-1]) + [0.0]
    torch.testing.assert_close(sd1, torch.tensor(expected))
    longer = schedules_published.align_your_steps("SDXL", 20)
    assert len(longer) == 21 and float(longer[0]) == pytest.approx(14.6146412293) and float(longer[-1]) == 0
    logs = np.log(longer[:-1].double().numpy())
    table = np.log(np.array(schedules_published.AYS_NOISE_LEVELS["SDXL"]))
    assert logs[2] == pytest.approx(table[1], rel=1e-6)  # every other point is a published one
    assert logs[1] == pytest.approx((table[0] + table[1]) / 2, rel=1e-6)  # and in between, log-linear
    half = schedules_published.align_your_steps("SD1", 10, denoise=0.5)
    torch.testing.assert_close(half, torch.tensor(list(schedules_published.AYS_NOISE_LEVELS["SD1"][-6:-1]) + [0.0]))
    assert len(schedules_published.align_your_steps("SVD", 10, denoise=0.0)) == 0
    with pytest.raises(ValueError, match="unknown model_type"):
        schedules_published.align_your_steps("SD3", 10)


def test_gits_sets_and_interpolation():
    table = schedules_published.gits_table()
    assert sorted(table) == [f"{0.8 + 0.05 * i:.2f}" for i in range(15)]
    assert all(len(sets) == 19 and [len(s) for s in sets] == list(range(3, 22)) for sets in table.values())
    got = schedules_published.gits(1.2, 10)
    torch.testing.assert_close(got, torch.tensor(list(table["1.20"][8][:-1]) + [0.0]))
    assert float(got[0]) == pytest.approx(float(MS.sigma_max), rel=1e-6)  # the sets are SD1 model σ
    long = schedules_published.gits(0.85, 30)
    assert len(long) == 31 and float(long[0]) == pytest.approx(table["0.85"][-1][0])
    assert torch.all(long[:-1] > long[1:])
    torch.testing.assert_close(schedules_published.gits(1.2, 10, denoise=0.3), got[-4:])
    with pytest.raises(ValueError, match="coeff"):
        schedules_published.gits(1.23, 10)


def test_sd_turbo_timesteps():
    got = schedules_published.sd_turbo(MS, 3, 1.0)
    torch.testing.assert_close(got, torch.cat([MS.sigma(torch.tensor([999, 899, 799])), torch.zeros(1)]))
    late = schedules_published.sd_turbo(MS, 2, 0.55)  # starts 10 - int(5.5) = 5 places in: 499
    torch.testing.assert_close(late[:2], MS.sigma(torch.tensor([499, 399])))


def test_sigma_tools():
    s = torch.tensor([10.0, 5.0, 2.0, 1.0, 0.0])
    high, low = sigma_tools.split(s, 2)
    assert high.tolist() == [10.0, 5.0, 2.0] and low.tolist() == [2.0, 1.0, 0.0]
    high, low = sigma_tools.split_denoise(s, 0.5)
    assert high.tolist() == [10.0, 5.0, 2.0] and low.tolist() == [2.0, 1.0, 0.0]  # the last 2 of 4 steps
    assert sigma_tools.flip(s).tolist() == pytest.approx([0.0001, 1.0, 2.0, 5.0, 10.0])
    assert s.tolist() == [10.0, 5.0, 2.0, 1.0, 0.0]  # inputs are never changed
    assert sigma_tools.set_first(s, 20.0).tolist() == [20.0, 5.0, 2.0, 1.0, 0.0] and float(s[0]) == 10.0
    ext = sigma_tools.extend_intermediate(s, 2, -1.0, 4.0, "linear")
    assert ext.tolist() == [10.0, 7.5, 5.0, 3.5, 2.0, 1.0, 0.0]
    cos = sigma_tools.extend_intermediate(s, 3, 6.0, 0.5, "cosine").tolist()
    assert cos[:3] == [10.0, 5.0, pytest.approx(5.0 - 3.0 * math.sin(math.pi / 6))]
    assert sigma_tools.parse("14.6, 3; 1.5e0 0.2").tolist() == pytest.approx([14.6, 3.0, 1.5, 0.0, 0.2])
    assert sigma_tools.parse("1, .5, -0.25").tolist() == [1.0, 0.5, -0.25]
    assert len(sigma_tools.flip(torch.zeros(0))) == 0
