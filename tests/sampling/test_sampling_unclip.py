"""unCLIP noise augmentation against diffusers' Stable unCLIP pipeline components."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from diffusers import DDPMScheduler
from diffusers.pipelines.stable_diffusion.pipeline_stable_unclip_img2img import StableUnCLIPImg2ImgPipeline
from diffusers.pipelines.stable_diffusion.stable_unclip_image_normalizer import StableUnCLIPImageNormalizer

from comfy_core.sampling.unclip import NoiseAugmentor, UnclipInput, unclip_adm


def _diffusers_noised(embeds: torch.Tensor, level: int, noise: torch.Tensor) -> torch.Tensor:
    """diffusers' StableUnCLIPImg2ImgPipeline.noise_image_embeddings on its own components."""
    pipe = SimpleNamespace(image_normalizer=StableUnCLIPImageNormalizer(embeds.shape[1]),
                           image_noising_scheduler=DDPMScheduler(beta_schedule="squaredcos_cap_v2"))
    with torch.no_grad():
        return StableUnCLIPImg2ImgPipeline.noise_image_embeddings(pipe, embeds, level, noise=noise)


@pytest.mark.parametrize("augmentation", [0.0, 0.1, 0.5, 1.0])
def test_augmentation_matches_diffusers(augmentation: float) -> None:
    embeds = torch.randn(1, 64, generator=torch.Generator().manual_seed(0))
    aug = NoiseAugmentor(64)
    level = aug.level(augmentation)
    ours = unclip_adm([UnclipInput(embeds, 1.0, augmentation)], aug, seed=5)
    noise = torch.randn(embeds.shape, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(ours, _diffusers_noised(embeds, level, noise), rtol=1e-4, atol=1e-5)  # diffusers keeps its schedule in float32


def test_strengths_sum_then_merge_augmentation() -> None:
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(1, 16, generator=gen), torch.randn(2, 16, generator=gen)
    aug = NoiseAugmentor(16)
    out = unclip_adm([UnclipInput(a, 0.5, 0.0), UnclipInput(b, 2.0, 0.0)], aug, seed=3, merge_augmentation=0.05)
    level0 = aug(torch.zeros(1, 16), 0, seed=0)[1]
    summed = 0.5 * a + 2.0 * (b[0] + b[1])  # level 0: √ᾱ_0 ≈ 1, noise weight ≈ 0.0016
    s0, n0 = float(aug.sqrt_alphas_cumprod[0]), float(aug.sqrt_one_minus_alphas_cumprod[0])
    noise = torch.randn(1, 16, generator=torch.Generator().manual_seed(3))
    first = s0 * summed + n0 * noise * (0.5 + 4.0)  # each part's seeded noise, same draw
    seeded = torch.Generator().manual_seed(3)
    torch.randn(1, 16, generator=seeded)
    merge_noise = torch.randn(1, 16, generator=seeded)  # the draw after the seeded one
    level = aug.level(0.05)
    want = aug.sqrt_alphas_cumprod[level] * first + aug.sqrt_one_minus_alphas_cumprod[level] * merge_noise
    torch.testing.assert_close(out[:, :16], want, rtol=1e-5, atol=1e-5)
    emb = NoiseAugmentor(16)(torch.zeros(1, 16), level, seed=0)[1]
    torch.testing.assert_close(out[:, 16:], emb)
    assert not torch.equal(emb, level0)
