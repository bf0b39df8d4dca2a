"""The SD 2.x x4 upscaler against diffusers (UNet2DConditionModel and the pieces of
StableDiffusionUpscalePipeline) on the same tiny weights, converted by diffusers' own
single-file key map: the UNet with its noise-level class embedding and cross-attention-only
first attentions, the low-resolution image's noise augmentation (the pipeline's
`low_res_scheduler.add_noise`), the model's β schedule, and one guided denoiser call
through our guider from SD_4XUpscale_Conditioning's output."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDPMScheduler, UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

import nodes
from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.loading.keymaps import strip_prefix
from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.models.family import UNetConfig
from comfy_core.models.unet import UNetModel
from comfy_core.sampling.guider import CFGGuider
from comfy_core.sampling.low_res import LowResNoiseAugmentor, low_res_inputs
from comfy_core.tools.make_x4_upscaler import tiny_unet, write_x4_upscaler
from tests.model_patches.tiny_unet import Probe
from tests.models.test_models_unet import diffusers_config


def _diffusers_unet(cfg: UNetConfig, ldm_unet: dict[str, torch.Tensor]) -> UNet2DConditionModel:
    dcfg = diffusers_config(cfg, (cfg.num_heads,) * len(cfg.channel_mult))
    dcfg.update(only_cross_attention=list(cfg.disable_self_attentions), num_class_embeds=cfg.num_classes)
    ref = UNet2DConditionModel(**dcfg).eval()
    ldm = {"model.diffusion_model." + k: v for k, v in ldm_unet.items()}
    missing, unexpected = ref.load_state_dict(convert_ldm_unet_checkpoint(ldm, dcfg), strict=False)
    assert not missing and not unexpected
    return ref


def _schedulers() -> tuple[DDPMScheduler, DDPMScheduler]:
    """The pipeline's low-res scheduler (as diffusers configures it for this model) and a
    v-prediction scheduler on the model's own training schedule."""
    common = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="scaled_linear",
                  clip_sample=False)
    return DDPMScheduler(**common), DDPMScheduler(**common, prediction_type="v_prediction")


def test_unet_matches_diffusers() -> None:
    cfg = tiny_unet(context_dim=24)
    torch.manual_seed(0)
    ours = UNetModel(cfg).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ref = _diffusers_unet(cfg, ours.state_dict())
    x, t = torch.randn(2, 7, 16, 24), torch.tensor([10.0, 900.0])
    ctx, labels = torch.randn(2, 5, 24), torch.tensor([0, 350])
    with torch.no_grad():
        a = ours(x, t, ctx, labels)
        b = ref(x, t, encoder_hidden_states=ctx, class_labels=labels).sample
        other = ours(x, t, ctx, torch.tensor([20, 350]))
    assert a.shape == (2, 4, 16, 24)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(a[0], other[0]) and torch.equal(a[1], other[1])  # the label matters
    with pytest.raises(ValueError, match="class label"):
        ours(x, t, ctx)


@pytest.mark.parametrize("level", [0, 1, 70, 350])
def test_noise_augmentation_is_the_pipelines_add_noise(level: int) -> None:
    low_res, _ = _schedulers()
    image = torch.rand(2, 3, 8, 12) * 2 - 1
    noise = torch.randn(2, 3, 8, 12)
    ours = LowResNoiseAugmentor()(image, level, noise=noise)
    want = low_res.add_noise(image, noise, torch.tensor([level]))
    torch.testing.assert_close(ours, want, rtol=1e-4, atol=1e-5)  # diffusers: float32 schedule


def test_low_res_inputs_follow_the_seed_rule() -> None:
    """Level round(350·a); noise from seed − 10; no noise at augmentation 0; zeros without an image."""
    augmentor = LowResNoiseAugmentor()
    image = torch.rand(1, 3, 6, 10) * 2 - 1
    concat, label = low_res_inputs({"concat_image": image, "noise_augmentation": 0.5}, (3, 4, 6, 10), augmentor, 42)
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(32))
    assert label.tolist() == [175] and label.dtype == torch.int64 and concat.shape == (3, 3, 6, 10)
    torch.testing.assert_close(concat, augmentor(image, 175, noise=noise).repeat(3, 1, 1, 1))
    plain, zero = low_res_inputs({"concat_image": image}, (1, 4, 6, 10), augmentor, 42)
    assert zero.tolist() == [0] and torch.allclose(plain, image, atol=1e-6)
    blank, _ = low_res_inputs({}, (2, 4, 6, 10), augmentor, 42)
    assert blank.shape == (2, 3, 6, 10) and not blank.any()


@pytest.fixture(scope="module")
def x4(tmp_path_factory):
    path = write_x4_upscaler(tmp_path_factory.mktemp("x4") / "x4_tiny.safetensors", seed=3)
    return load_checkpoint(path), load_state_dict(path)


def test_sigma_table_is_the_models_training_schedule(x4) -> None:
    ckpt, _ = x4
    _, main = _schedulers()
    want = ((1 - main.alphas_cumprod) / main.alphas_cumprod).sqrt()
    torch.testing.assert_close(ckpt.model.model.model_sampling.sigmas, want, rtol=2e-4, atol=0)  # float32 betas there


def test_guided_denoiser_call_matches_diffusers(x4) -> None:
    """D(x, σ) at t = 600 from SD_4XUpscale_Conditioning's output (augmentation 0.2, cfg 3)
    equals the pipeline's step: the image noised by the low-res scheduler with the seeded
    noise, concatenated after x_t, the UNet's v with the noise level as class label, guided,
    and turned into x0 by a v-prediction DDPM scheduler."""
    ckpt, state = x4
    cfg = ckpt.family.unet
    ref = _diffusers_unet(cfg, strip_prefix(state, "model.diffusion_model."))
    low_res, main = _schedulers()
    gen = torch.Generator().manual_seed(5)
    images = torch.rand(1, 6, 10, 3, generator=gen)
    pos, neg = torch.randn(1, 7, cfg.context_dim, generator=gen), torch.randn(1, 7, cfg.context_dim, generator=gen)
    node = nodes.NODE_CLASS_MAPPINGS["SD_4XUpscale_Conditioning"]
    positive, negative, latent = node.execute(images, [[pos, {}]], [[neg, {}]], 4.0, 0.2)
    assert latent["samples"].shape == (1, 4, 6, 10)
    t, seed, cfg_scale = 600, 1234, 3.0
    sigma = float(ckpt.model.model.model_sampling.sigmas[t])
    x = torch.randn(1, 4, 6, 10, generator=gen) * (1 + sigma**2) ** 0.5
    guider = CFGGuider(ckpt.model)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg_scale)
    probe = Probe(x)
    guider.sample(torch.zeros_like(x), torch.zeros_like(x), probe, torch.tensor([sigma, 0.0]), seed=seed)

    image = images.movedim(-1, 1) * 2 - 1
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(seed - 10))
    level = torch.tensor([round(0.2 * 350)])
    image = low_res.add_noise(image, noise, level)
    x_t = x / (1 + sigma**2) ** 0.5
    with torch.no_grad():
        v = ref(torch.cat([x_t, image], 1).repeat(2, 1, 1, 1), t, encoder_hidden_states=torch.cat([neg, pos]),
                class_labels=level.repeat(2)).sample
    v = v[0:1] + cfg_scale * (v[1:2] - v[0:1])
    want = main.step(v, t, x_t).pred_original_sample
    torch.testing.assert_close(probe.out, want, rtol=2e-4, atol=2e-4)
