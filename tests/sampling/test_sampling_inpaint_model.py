"""The concat conditioning role of inpainting UNets: the mask + masked-latent channels, how
conditioning entries override them, cropping to areas, CFG batching and the KSampler path,
on a MODEL whose network is a tiny linear function that records its inputs."""

import torch
from function_model import MS, SD15_INPAINT, denoised_by_hand, function_model

from comfy_core.models.family import SD15
from comfy_core.sampling.concat import BLANK_INPAINT_LATENT, ConcatSource, inpaint_concat
from comfy_core.sampling.conditioning import from_comfy, resolve
from comfy_core.sampling.ksampler import reshape_mask, sample
from comfy_core.sampling.model_call import sampling_function

SCALE = 0.18215
G = torch.Generator().manual_seed(0)
POS = [[torch.randn(1, 77, 8, generator=G), {}]]
NEG = [[torch.randn(1, 77, 8, generator=G), {}]]
LATENT = torch.randn(1, 4, 8, 8, generator=G)


class InpaintUNet:
    """eps = 0.1·x[:, :4] + 0.05·concat.sum(channels) + mean(context); records inputs."""

    def __init__(self, in_channels: int = 9):
        self.in_channels, self.inputs = in_channels, []

    def __call__(self, x, t, context, y):
        assert x.shape[1] == self.in_channels, f"UNet got {x.shape[1]} channels"
        self.inputs.append(x.clone())
        out = 0.1 * x[:, :4] + context.mean(dim=(1, 2)).view(-1, 1, 1, 1)
        return out + 0.05 * x[:, 4:].sum(dim=1, keepdim=True) if x.shape[1] > 4 else out


def _half_mask(h: int = 64, w: int = 64) -> torch.Tensor:
    mask = torch.zeros(1, h, w)
    mask[:, :, : w // 2] = 1.0
    return mask


def test_noise_mask_and_input_latent_fill_the_slots():
    latent_in = LATENT * SCALE
    mask = reshape_mask(_half_mask(), latent_in.shape)
    out = inpaint_concat(ConcatSource(latent_in, mask, SCALE), latent_in.shape)
    assert out.shape == (1, 5, 8, 8)
    assert torch.equal(out[:, :1], mask[:, :1].round())
    assert torch.equal(out[:, 1:], latent_in)


def test_conditioning_concat_overrides_and_is_scaled_in():
    latent_in = LATENT * SCALE
    source = ConcatSource(latent_in, reshape_mask(_half_mask(), latent_in.shape), SCALE)
    concat_latent = torch.randn(1, 4, 8, 8, generator=G)
    concat_mask = torch.zeros(1, 1, 64, 64)
    concat_mask[..., 40:, :] = 0.7  # pixel-size soft mask: resized then rounded
    out = inpaint_concat(source, (2, 4, 8, 8), concat_latent, concat_mask)
    assert out.shape == (2, 5, 8, 8)
    torch.testing.assert_close(out[:, 1:], (concat_latent * SCALE).repeat(2, 1, 1, 1))
    expected = torch.zeros(8, 8)
    expected[5:] = 1.0
    assert torch.equal(out[0, 0], expected) and torch.equal(out[1, 0], expected)


def test_no_mask_means_everything_masked_over_a_black_latent():
    out = inpaint_concat(ConcatSource(LATENT * SCALE, None, SCALE), (1, 4, 4, 6))
    assert torch.equal(out[:, 0], torch.ones(1, 4, 6))
    for channel, value in enumerate(BLANK_INPAINT_LATENT):
        torch.testing.assert_close(out[0, 1 + channel], torch.full((4, 6), value))


def test_concat_latent_of_another_size_is_resized():
    source = ConcatSource(LATENT * SCALE, torch.ones(1, 4, 8, 8), SCALE)
    out = inpaint_concat(source, (1, 4, 8, 8), torch.ones(1, 4, 16, 16))
    torch.testing.assert_close(out[:, 1:], torch.full((1, 4, 8, 8), SCALE))


class Step:
    """The guided denoiser of one step (`sampling_function` on conds resolved with the
    concat source), and the by-hand prediction of a single entry."""

    def __init__(self, unet, cfg, pos, neg, source, shape=(1, 4, 8, 8)):
        self.model, self.cfg = function_model(unet, SD15_INPAINT).model, cfg
        self.pos = resolve(from_comfy(pos), shape, MS, concat=source)
        self.neg = resolve(from_comfy(neg), shape, MS, concat=source)

    def __call__(self, x, s):
        return sampling_function(self.model, x, s, self.neg, self.pos, self.cfg, {})

    def denoise_raw(self, x, s, context, y, concat):
        return denoised_by_hand(InpaintUNet(), x, s, context, y, concat)


def _guider(cfg, pos=POS, neg=NEG, source=None, unet=None):
    unet = unet or InpaintUNet()
    return unet, Step(unet, cfg, pos, neg, source)


def test_cond_and_uncond_batch_with_their_own_concat_and_equal_separate_calls():
    latent_in = LATENT * SCALE
    source = ConcatSource(latent_in, reshape_mask(_half_mask(), latent_in.shape), SCALE)
    concat_latent = torch.randn(1, 4, 8, 8, generator=G)
    pos = [[POS[0][0], {"concat_latent_image": concat_latent}]]
    unet, g = _guider(6.0, pos=pos, source=source)
    x, s = torch.randn(1, 4, 8, 8, generator=G), torch.tensor([2.0])
    out = g(x, s)
    assert len(unet.inputs) == 1 and unet.inputs[0].shape == (2, 9, 8, 8)
    seen = unet.inputs[0]
    torch.testing.assert_close(seen[:, :4], MS.calculate_input(torch.tensor([2.0, 2.0]), x.repeat(2, 1, 1, 1)))
    torch.testing.assert_close(seen[0, 5:], latent_in[0])  # negative first: the input latent
    torch.testing.assert_close(seen[1, 5:], concat_latent[0] * SCALE)  # positive: its own
    assert torch.equal(seen[:, 4], source.noise_mask[:, 0].round().repeat(2, 1, 1))
    cond = g.denoise_raw(x, s, POS[0][0], None, inpaint_concat(source, x.shape, concat_latent))
    uncond = g.denoise_raw(x, s, NEG[0][0], None, inpaint_concat(source, x.shape))
    torch.testing.assert_close(out, uncond + (cond - uncond) * 6.0, atol=1e-5, rtol=1e-5)


def test_area_entries_get_the_concat_of_their_area():
    source = ConcatSource(LATENT * SCALE, None, SCALE)
    pos = [[POS[0][0], {"area": (4, 8, 4, 0), "concat_mask": torch.arange(64.0).reshape(1, 8, 8) % 2}]]
    unet, g = _guider(1.0, pos=pos, source=source)
    g(torch.zeros(1, 4, 8, 8), torch.tensor([1.0]))
    (seen,) = unet.inputs
    assert seen.shape == (1, 9, 4, 8)
    assert torch.equal(seen[0, 4], (torch.arange(64.0).reshape(8, 8) % 2)[4:])
    torch.testing.assert_close(seen[0, 5:], (LATENT * SCALE)[0, :, 4:])


def test_ksampler_feeds_nine_channels_and_regular_models_four():
    latent = {"samples": LATENT.clone(), "noise_mask": _half_mask()}
    options = dict(seed=1, steps=2, cfg=5.0, sampler_name="euler", scheduler="normal")
    inpaint_unet = InpaintUNet(9)
    out = sample(function_model(inpaint_unet, SD15_INPAINT), POS, NEG, latent, **options)
    assert len(inpaint_unet.inputs) == 2 and all(x.shape == (2, 9, 8, 8) for x in inpaint_unet.inputs)
    for x in inpaint_unet.inputs:
        torch.testing.assert_close(x[:, 5:], (LATENT * SCALE).repeat(2, 1, 1, 1))
        assert torch.equal(x[:, 4, :, 4:], torch.zeros(2, 8, 4)) and torch.equal(x[:, 4, :, :4], torch.ones(2, 8, 4))
    plain_unet = InpaintUNet(4)
    plain = sample(function_model(plain_unet, SD15), POS, NEG, latent, **options)
    assert all(x.shape == (2, 4, 8, 8) for x in plain_unet.inputs)
    assert out["samples"].shape == plain["samples"].shape == (1, 4, 8, 8)
    assert not torch.allclose(out["samples"], plain["samples"])
