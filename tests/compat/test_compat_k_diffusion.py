"""`comfy.k_diffusion.sampling` against k-diffusion's own module (the independent
reference), and the late binding `comfy.samplers.ksampler` gives packs."""

import pytest
import torch

from comfy_core.registry.plugin_env import put_facades_on_path
from tests.sampling.kdiffusion_reference import load

put_facades_on_path()


def denoiser(x, sigma, **extra):
    """An analytic model: D(x, σ) of a Gaussian with std 0.5 around 0.1."""
    s = sigma.reshape(-1, *[1] * (x.ndim - 1))
    return 0.1 + (x - 0.1) * 0.25 / (0.25 + s**2)


def test_schedules_and_helpers_match_k_diffusion():
    import comfy.k_diffusion.sampling as ours

    ref = load()
    assert torch.allclose(ours.get_sigmas_karras(7, 0.03, 14.6), ref.get_sigmas_karras(7, 0.03, 14.6))
    assert torch.allclose(ours.get_sigmas_exponential(5, 0.03, 14.6),
                          ref.get_sigmas_exponential(5, 0.03, 14.6))
    x, d = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    sigma = torch.tensor([2.0, 2.0])
    assert torch.allclose(ours.to_d(x, sigma, d), ref.to_d(x, sigma, d))
    down, up = ours.get_ancestral_step(torch.tensor(3.0), torch.tensor(1.0), 0.7)
    ref_down, ref_up = ref.get_ancestral_step(torch.tensor(3.0), torch.tensor(1.0), 0.7)
    assert torch.allclose(down, ref_down) and torch.allclose(up, ref_up)


@pytest.mark.parametrize("name", ["euler", "heun", "dpmpp_2m", "dpm_2"])
def test_samplers_match_k_diffusion(name):
    import comfy.k_diffusion.sampling as ours

    ref = load()
    sigmas = ref.get_sigmas_karras(6, 0.03, 14.6)
    x = torch.randn(1, 4, 5, 5, generator=torch.Generator().manual_seed(0)) * sigmas[0]
    steps = []
    got = getattr(ours, f"sample_{name}")(denoiser, x.clone(), sigmas, disable=True,
                                          callback=lambda info: steps.append(info["i"]))
    want = getattr(ref, f"sample_{name}")(denoiser, x.clone(), sigmas, disable=True)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    assert steps == list(range(len(sigmas) - 1))


def test_ksampler_uses_the_module_function_at_call_time():
    import comfy.k_diffusion.sampling as k
    import comfy.samplers

    calls = []
    original = k.sample_euler

    def replaced(model, x, sigmas, **kwargs):
        calls.append(len(sigmas))
        return original(model, x, sigmas, **kwargs)

    k.sample_euler = replaced
    try:
        sampler = comfy.samplers.ksampler("euler")
        assert sampler.sampler_function is replaced
    finally:
        k.sample_euler = original
    with pytest.raises(AttributeError, match="sample_nope"):
        comfy.samplers.ksampler("nope")
