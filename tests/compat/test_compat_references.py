"""Facades checked against independent references: `comfy.k_diffusion.sampling` against
k-diffusion's own module, `comfy.utils.unet_to_diffusers` against a diffusers UNet; and the
late binding `comfy.samplers.ksampler` gives packs."""

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


def test_unet_to_diffusers_names_every_diffusers_key():
    """Against a real diffusers UNet2DConditionModel: every one of its keys maps to the
    LDM key our checkpoint conversion gives it."""
    from diffusers import UNet2DConditionModel

    import comfy.utils
    from comfy_core.loading.diffusers_folder import diffusers_unet_to_ldm

    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=2,
        block_out_channels=(32, 64), norm_num_groups=8, cross_attention_dim=16,
        attention_head_dim=8, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
    state = unet.state_dict()
    ours = dict(zip(state, diffusers_unet_to_ldm(state)))
    config = {"channel_mult": [1, 2], "num_res_blocks": [2, 2], "transformer_depth": [1, 1, 0, 0],
              "transformer_depth_output": [0, 0, 0, 1, 1, 1], "transformer_depth_middle": 1}
    mapped = comfy.utils.unet_to_diffusers(config)
    assert {k: mapped.get(k) for k in state} == ours
    assert comfy.utils.UNET_MAP_RESNET["in_layers.2.weight"] == "conv1.weight"
