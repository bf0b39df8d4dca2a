"""ComfyUI's model-side names that packs import at module level: the ones we support checked
against independent references (diffusers' schedules and Gaussian posterior, the TAESD
formulas), the ones of families we do not run checked to fail clearly when used (and only
then: importing them and isinstance checks work)."""

import pytest
import torch

from comfy_core.registry.plugin_env import put_facades_on_path
from comfy_core.sampling.model_sampling import SamplingConfig

put_facades_on_path()


def test_model_base_model_sampling_pairs_the_schedule_with_the_prediction_like_diffusers():
    from diffusers import EulerDiscreteScheduler

    import comfy.model_base
    import comfy.model_sampling

    config = SamplingConfig()
    eps = comfy.model_base.model_sampling(config, comfy.model_base.ModelType.EPS)
    v = comfy.model_base.model_sampling(config, comfy.model_base.ModelType.V_PREDICTION)
    assert isinstance(eps, comfy.model_sampling.ModelSamplingDiscrete) and isinstance(eps, comfy.model_sampling.EPS)
    assert isinstance(v, comfy.model_sampling.V_PREDICTION)
    reference = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    acp = reference.alphas_cumprod.double()
    assert torch.allclose(eps.sigmas.double(), ((1 - acp) / acp) ** 0.5, rtol=1e-4)  # diffusers: float32 products
    x, out, sigma = torch.randn(1, 4, 2, 2), torch.randn(1, 4, 2, 2), torch.tensor([3.0])
    assert torch.allclose(eps.calculate_denoised(sigma, out, x), x - 3.0 * out, atol=1e-6)
    want_v = x / (3.0**2 + 1) - out * 3.0 / (3.0**2 + 1) ** 0.5  # v-prediction with sigma_data 1
    assert torch.allclose(v.calculate_denoised(sigma, out, x), want_v, atol=1e-6)
    with pytest.raises(NotImplementedError, match="FLOW"):
        comfy.model_base.model_sampling(config, comfy.model_base.ModelType.FLOW)


def test_diagonal_gaussian_equals_diffusers_posterior():
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution as Reference

    from comfy.ldm.modules.distributions.distributions import DiagonalGaussianDistribution

    params = torch.randn(2, 8, 3, 3, generator=torch.Generator().manual_seed(0)) * 4
    ours, ref = DiagonalGaussianDistribution(params), Reference(params)
    assert torch.equal(ours.mode(), ref.mode()) and torch.allclose(ours.std, ref.std)
    assert torch.allclose(ours.kl(), ref.kl()) and torch.allclose(ours.kl(DiagonalGaussianDistribution(params * 0.5)),
                                                                 ref.kl(Reference(params * 0.5)))
    sample = torch.randn(2, 4, 3, 3)
    assert torch.allclose(ours.nll(sample), ref.nll(sample))
    drawn = ours.sample(torch.Generator().manual_seed(5))
    assert torch.equal(drawn, ref.sample(torch.Generator().manual_seed(5)))
    assert torch.equal(DiagonalGaussianDistribution(params, deterministic=True).sample(), ours.mean)


def test_taesd_module_decodes_like_the_preview_decoder(tmp_path):
    from comfy.taesd.taesd import TAESD, Block, conv
    from comfy_core.loading.taesd import load_decoder
    from comfy_core.tools.make_taesd import write_taesd_decoder, write_taesd_encoder

    decoder = write_taesd_decoder(tmp_path / "taesd_decoder.safetensors")
    encoder = write_taesd_encoder(tmp_path / "taesd_encoder.safetensors")
    taesd = TAESD(encoder, decoder, latent_channels=4)
    latent = torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(taesd.decode(latent), load_decoder(decoder)(latent) * 2 - 1, atol=1e-6)
        assert taesd.encode(torch.zeros(1, 3, 32, 32)).shape == (1, 4, 4, 4)
    x = torch.linspace(-3, 3, 7)  # the magnitude 0..1 maps back to; beyond it clamps
    assert torch.allclose(TAESD.unscale_latents(TAESD.scale_latents(x)), x)
    assert TAESD.scale_latents(torch.tensor([-7.0, 7.0])).tolist() == [0.0, 1.0]
    assert conv(4, 8, bias=False).bias is None and isinstance(Block(8, 8), torch.nn.Module)


def test_latent_formats_of_other_families_name_themselves_when_built():
    import comfy.latent_formats as lf

    assert not isinstance(lf.SD15(), (lf.Flux, lf.Wan21, lf.SD3))
    with pytest.raises(NotImplementedError, match="Wan21"):
        lf.Wan21()
    playground = lf.SDXL_Playground_2_5()
    x = torch.randn(1, 4, 2, 2)
    mean = torch.tensor(playground.latents_mean).view(1, 4, 1, 1)
    std = torch.tensor(playground.latents_std).view(1, 4, 1, 1)
    assert torch.allclose(playground.process_in(x), (x - mean) * 0.5 / std)
    assert torch.allclose(playground.process_out(playground.process_in(x)), x, atol=1e-6)


def test_video_and_other_family_helpers_import_and_fail_when_used():
    from comfy.ldm.flux.math import apply_rope
    from comfy.ldm.lumina.model import FeedForward
    from comfy_api.latest import InputImpl, Types

    assert Types.VideoContainer.as_input() == ["auto", "mp4"] and Types.VideoCodec.as_input() == ["auto", "h264"]
    assert Types.VideoContainer.get_extension("auto") == "mp4"
    with pytest.raises(NotImplementedError, match="VIDEO"):
        InputImpl.VideoFromComponents(Types.VideoComponents(images=torch.zeros(1, 8, 8, 3)))
    with pytest.raises(NotImplementedError, match="apply_rope"):
        apply_rope(torch.zeros(1), torch.zeros(1), torch.zeros(1))
    with pytest.raises(NotImplementedError, match="Lumina"):
        FeedForward(8, 32)


def test_chainner_model_loading_gives_spandrels_descriptor(tmp_path):
    from comfy_core.loading.safetensors_io import load_state_dict
    from comfy_core.loading.upscale_models import import_spandrel
    from comfy_core.tools.make_upscale import write_upscale_model
    from comfy_extras.chainner_models import model_loading

    spandrel = import_spandrel()  # spandrel itself, importable without torchvision

    state = load_state_dict(write_upscale_model("esrgan", tmp_path / "x4.safetensors"))
    model = model_loading.load_state_dict(state).eval()
    reference = spandrel.ModelLoader().load_from_state_dict(state).eval()
    assert isinstance(model, spandrel.ImageModelDescriptor) and model.scale == reference.scale == 4
    image = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(model(image), reference(image))
    with pytest.raises(Exception, match="not an upscale model"):
        model_loading.load_state_dict({"weight": torch.zeros(2, 2)})


def test_scheduled_hook_names_import_and_raise_when_used():
    import comfy.hooks
    from comfy.ldm.modules.attention import default
    from comfy.ldm.modules.diffusionmodules.openaimodel import SpatialTransformer
    from comfy.model_patcher import CallbacksMP, PatcherInjection, WrappersMP
    from comfy_extras import nodes_hooks

    class PackLoader(nodes_hooks.CreateHookModelAsLora):  # packs subclass it at import
        pass

    assert default(None, lambda: 3) == 3 and SpatialTransformer.__module__.startswith("comfy_core")
    assert PatcherInjection and WrappersMP.OUTER_SAMPLE and CallbacksMP.ON_CLONE
    with pytest.raises(NotImplementedError, match="HookKeyframeGroup"):
        comfy.hooks.HookKeyframeGroup()
    with pytest.raises(NotImplementedError, match="set_hooks_for_conditioning"):
        comfy.hooks.set_hooks_for_conditioning([], None)
    with pytest.raises(NotImplementedError, match="CreateHookModelAsLora"):
        PackLoader()
    assert isinstance(comfy.hooks.HookGroup(), comfy.hooks.HookGroup)  # the supported part stays


def test_a_loaded_lotus_unet_is_comfy_model_base_lotus():
    import comfy.model_base

    from comfy_core.loading.checkpoint import unet_from_state
    from comfy_core.tools.make_lotus import build_lotus_unet

    model = unet_from_state(build_lotus_unet(), "lotus-depth-d-v1-1.safetensors")
    assert isinstance(model.model, comfy.model_base.Lotus)
    assert not isinstance(model.model, comfy.model_base.SD21UNCLIP)
    assert model.model.model_type is comfy.model_base.ModelType.IMG_TO_IMG
