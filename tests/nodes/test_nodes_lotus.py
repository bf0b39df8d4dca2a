"""Lotus-D: a tiny random UNet in the public layout is detected as its own model type, and
the template's sampling graph (LotusConditioning, BasicGuider, DisableNoise, euler over
BasicScheduler's one step with SetFirstSigma 999) gives what the Lotus paper's inference
gives with diffusers' UNet on the same weights: one call at t = 999 on the clean image
latent, with the task switcher as class label, whose output is the annotation latent
(x0-prediction)."""

from __future__ import annotations

import math

import pytest
import torch
from diffusers import UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

from comfy_core.loading.checkpoint import unet_from_state
from comfy_core.loading.detect import DetectionError, detect_family
from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.models.base_model import Lotus, ModelType
from comfy_core.sampling.model_sampling import DiscreteImgToImg
from comfy_core.tools.make_lotus import build_lotus_unet, lotus_unet_config, write_lotus_unet
from nodes.custom_sampling import BasicGuider, DisableNoise, SamplerCustomAdvanced
from nodes.custom_sampling_samplers import KSamplerSelect
from nodes.custom_sampling_schedules import BasicScheduler
from nodes.custom_sampling_sigmas import SetFirstSigma
from nodes.lotus import LotusConditioning
from tests.models.test_models_unet import diffusers_config

SD_SCALE = 0.18215  # SD's latent scale factor (the VAE's `scaling_factor`)


@pytest.fixture(scope="module")
def lotus_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("lotus") / "lotus-depth-d-v1-1.safetensors"
    write_lotus_unet(out, seed=3)
    state = load_state_dict(out)
    with torch.no_grad():  # non-trivial norms and biases, so every layer's role shows
        gen = torch.Generator().manual_seed(4)
        state = {k: v + 0.05 * torch.randn(v.shape, generator=gen) for k, v in state.items()}
    return state


def _out(result):
    return result.result if hasattr(result, "result") else result


def test_the_file_is_detected_as_lotus(lotus_file):
    model = unet_from_state(lotus_file, "lotus-depth-d-v1-1.safetensors")
    assert isinstance(model.model, Lotus) and model.model.family.name == "lotus"
    assert model.model.model_type is ModelType.IMG_TO_IMG
    assert isinstance(model.model.model_sampling, DiscreteImgToImg)
    unet = model.model.family.unet
    assert (unet.adm_in_channels, unet.in_channels, unet.context_dim, unet.use_linear_in_transformer) == \
        (4, 4, 1024, True)
    assert set(lotus_file) == set(build_lotus_unet().keys())  # bare LDM keys, no prefix


def test_a_lotus_g_unet_is_refused_by_name():
    state = build_lotus_unet()
    state["input_blocks.0.0.weight"] = torch.zeros(32, 8, 3, 3)  # latent + noise in: Lotus-G
    with pytest.raises(DetectionError, match="Lotus-D"):
        detect_family(state)


def test_image_to_image_prediction_formulas():
    """x0 from the unscaled input: the network sees x itself, its output is D(x, σ); the
    timestep of σ 999 (above the schedule) is the last one, 999."""
    ms = DiscreteImgToImg()
    x, out = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    sigma = torch.tensor([999.0, 3.0])
    assert torch.equal(ms.calculate_input(sigma, x), x)
    assert torch.equal(ms.calculate_denoised(sigma, out, x), out)
    assert ms.timestep(torch.tensor([999.0])).item() == 999.0


def test_lotus_conditioning_is_the_fixed_empty_prompt(app):
    (cond,) = _out(LotusConditioning.execute())
    assert len(cond) == 1 and cond[0][1] == {}
    tokens = cond[0][0]
    assert tokens.shape == (1, 2, 1024) and tokens.dtype == torch.float32
    assert torch.equal(tokens.half().float(), tokens)  # published in float16


def reference_lotus_d(state: dict, image_latent: torch.Tensor, prompt_embeds: torch.Tensor) -> torch.Tensor:
    """Lotus-D's inference (He et al. 2024, sec. 4 and their released pipeline) with
    diffusers: the UNet (class embedding = a projection of the 4-wide task switcher) called
    once at t = T - 1 = 999 on the scaled image latent; its output is the annotation's
    scaled latent (x0-prediction, no noise)."""
    cfg = lotus_unet_config()
    heads = tuple(cfg.heads_for(cfg.model_channels * m)[0] for m in cfg.channel_mult)
    dcfg = diffusers_config(cfg, heads)
    unet = UNet2DConditionModel(**dcfg).eval()
    missing, unexpected = unet.load_state_dict(convert_ldm_unet_checkpoint(
        {"model.diffusion_model." + k: v for k, v in state.items()}, dcfg), strict=False)
    assert not missing and not unexpected
    # the task switcher (1, 0) -> (sin 1, sin 0, cos 1, cos 0): "annotate", not "reconstruct"
    task = torch.tensor([[math.sin(1.0), math.sin(0.0), math.cos(1.0), math.cos(0.0)]])
    with torch.no_grad():
        batch = image_latent.shape[0]
        return unet(image_latent * SD_SCALE, torch.tensor([999]),
                    encoder_hidden_states=prompt_embeds.repeat(batch, 1, 1),
                    class_labels=task.repeat(batch, 1)).sample


def test_template_sampling_graph_matches_the_reference(app, lotus_file):
    model = unet_from_state(lotus_file, "lotus-depth-d-v1-1.safetensors")
    image_latent = torch.randn(2, 4, 8, 12, generator=torch.Generator().manual_seed(5)) * 4
    (conditioning,) = _out(LotusConditioning.execute())
    (guider,) = _out(BasicGuider.execute(model, conditioning))
    (sigmas,) = _out(BasicScheduler.execute(model, "normal", 1, 1.0))
    (sigmas,) = _out(SetFirstSigma.execute(sigmas, 999.0000000000002))
    (sampler,) = _out(KSamplerSelect.execute("euler"))
    (noise,) = _out(DisableNoise.execute())
    out, _ = _out(SamplerCustomAdvanced.execute(noise, guider, sampler, sigmas, {"samples": image_latent}))
    expected = reference_lotus_d(lotus_file, image_latent, conditioning[0][0])
    assert out["samples"].shape == image_latent.shape
    torch.testing.assert_close(out["samples"] * SD_SCALE, expected, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(expected, image_latent * SD_SCALE, atol=1e-2)  # the model did something
