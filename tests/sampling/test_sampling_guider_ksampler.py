"""CFG guider batching rules (COMPAT 9.4), SDXL ADM (9.8) and the KSampler procedure
(9.1, 9.2, 9.5) on a MODEL whose network is a tiny linear function."""

import math

import pytest
import torch
from function_model import MS, denoised_by_hand, function_model

from comfy_core.sampling.conditioning import adm_vector, from_comfy, resolve, timestep_embedding
from comfy_core.sampling.ksampler import sample, schedule_sigmas, truncate_sigmas
from comfy_core.sampling.model_call import sampling_function
from comfy_core.sampling.noise import prepare_noise
from comfy_core.sampling.sampler_base import Guided

G = torch.Generator().manual_seed(0)
POS = [[torch.randn(1, 77, 8, generator=G), {}]]
NEG = [[torch.randn(1, 77, 8, generator=G), {}]]


class RecordingUNet:
    """eps = 0.1·x + mean(context) (+ mean(y)); records batch sizes and contexts."""

    def __init__(self):
        self.calls = []

    def __call__(self, x, t, context, y):
        self.calls.append((x.shape[0], context.clone(), t.clone()))
        out = 0.1 * x + context.mean(dim=(1, 2)).view(-1, 1, 1, 1)
        return out + (0 if y is None else y.mean(dim=1).view(-1, 1, 1, 1))


class Step:
    """The guided denoiser of one sampling step (`sampling_function` on resolved conds),
    and the by-hand prediction of a single entry to compare with."""

    def __init__(self, unet, cfg, pos, neg, shape):
        self.unet, self.cfg, self.model = unet, cfg, function_model(unet).model
        self.pos, self.neg = resolve(from_comfy(pos), shape, MS), resolve(from_comfy(neg), shape, MS)

    def __call__(self, x, s, model_options=None):
        return sampling_function(self.model, x, s, self.neg, self.pos, self.cfg, model_options or {})

    def guided(self, x, s):
        """What a CFG++ sampler asks for: the result and the real unconditional prediction."""
        seen = {}

        def keep(args):
            seen["uncond"] = args["uncond_denoised"]
            return args["denoised"]

        out = self(x, s, {"sampler_post_cfg_function": [keep], "disable_cfg1_optimization": True})
        return Guided(out, seen["uncond"])

    def denoise_raw(self, x, s, context, y):
        return denoised_by_hand(lambda *a: 0.1 * a[0] + a[2].mean(dim=(1, 2)).view(-1, 1, 1, 1), x, s, context, y)


def guider(cfg, pos=POS, neg=NEG, unet=None, shape=(1, 4, 8, 8)):
    unet = unet or RecordingUNet()
    return unet, Step(unet, cfg, pos, neg, shape)


def test_batched_cfg_equals_two_separate_calls_and_negative_comes_first():
    unet, g = guider(7.5)
    x, s = torch.randn(1, 4, 8, 8, generator=G), torch.tensor([3.0])
    out = g(x, s)
    assert len(unet.calls) == 1 and unet.calls[0][0] == 2
    torch.testing.assert_close(unet.calls[0][1][0], NEG[0][0][0])  # [negative, positive]
    assert unet.calls[0][2].tolist() == [float(MS.timestep(s))] * 2
    cond = g.denoise_raw(x, s, POS[0][0], None)
    uncond = g.denoise_raw(x, s, NEG[0][0], None)
    torch.testing.assert_close(out, uncond + (cond - uncond) * 7.5, atol=1e-5, rtol=1e-5)


def test_cfg_one_skips_uncond_unless_the_sampler_reads_it():
    unet, g = guider(1.0)
    x, s = torch.randn(1, 4, 8, 8, generator=G), torch.tensor([3.0])
    plain = g(x, s)
    assert [c[0] for c in unet.calls] == [1]  # the plain call skips the negative at cfg 1
    out = g.guided(x, s)  # what a CFG++ sampler asks for: the real unconditional prediction
    assert [c[0] for c in unet.calls] == [1, 2]
    cond = g.denoise_raw(x, s, POS[0][0], None)
    torch.testing.assert_close(plain, cond)
    torch.testing.assert_close(out.uncond, g.denoise_raw(x, s, NEG[0][0], None), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.denoised, cond, atol=1e-6, rtol=1e-5)
    assert float((out.uncond - out.denoised).abs().max()) > 1e-3


def test_cross_attn_lengths_repeat_to_lcm_and_ratio_limit():
    long_neg = [[torch.randn(1, 154, 8, generator=G), {}]]
    unet, g = guider(5.0, neg=long_neg)
    g(torch.randn(1, 4, 8, 8, generator=G), torch.tensor([2.0]))
    assert len(unet.calls) == 1 and unet.calls[0][1].shape == (2, 154, 8)
    torch.testing.assert_close(unet.calls[0][1][1], POS[0][0][0].repeat(2, 1))
    too_long = [[torch.randn(1, 77 * 5, 8, generator=G), {}]]
    unet, g = guider(5.0, neg=too_long)
    g(torch.randn(1, 4, 8, 8, generator=G), torch.tensor([2.0]))
    assert [c[0] for c in unet.calls] == [1, 1]


def test_timestep_range_skips_entries():
    late = [[POS[0][0], {"start_percent": 0.5, "end_percent": 1.0}], [NEG[0][0] * 2, {"start_percent": 0.0, "end_percent": 0.5}]]
    unet, g = guider(1.0, pos=late)
    x = torch.randn(1, 4, 8, 8, generator=G)
    g(x, torch.tensor([14.0]))  # early: only the second entry is active
    torch.testing.assert_close(unet.calls[-1][1][0], NEG[0][0][0] * 2)
    g(x, torch.tensor([0.1]))  # late: only the first
    torch.testing.assert_close(unet.calls[-1][1][0], POS[0][0][0])


def test_area_and_strength_weights():
    area = [[POS[0][0], {"area": (4, 4, 0, 4), "strength": 2.0}]]
    unet, g = guider(1.0, pos=POS + area)
    x = torch.randn(1, 4, 8, 8, generator=G)
    out = g(x, torch.tensor([1.0]))
    assert sorted(c[0] for c in unet.calls) == [1, 1]  # different input shapes: two calls
    full = g.denoise_raw(x, torch.tensor([1.0]), POS[0][0], None)
    # Both entries give the same prediction, so the weighted average is unchanged...
    torch.testing.assert_close(out, full, atol=1e-5, rtol=1e-5)
    # ...and with a different prompt in the area, the area is a strength-weighted mix.
    other = [[NEG[0][0], {"area": (8, 8, 0, 0), "strength": 3.0}]]
    unet, g = guider(1.0, pos=POS + other)
    out = g(x, torch.tensor([1.0]))
    o = g.denoise_raw(x, torch.tensor([1.0]), NEG[0][0], None)
    torch.testing.assert_close(out, (full + 3 * o) / 4, atol=1e-5, rtol=1e-5)


def test_mask_weights():
    mask = torch.zeros(1, 16, 16)
    mask[:, :, :8] = 1.0
    masked = [[NEG[0][0], {"mask": mask, "strength": 1.0}]]
    unet, g = guider(1.0, pos=POS + masked)
    x = torch.randn(1, 4, 8, 8, generator=G)
    out = g(x, torch.tensor([1.0]))
    a = g.denoise_raw(x, torch.tensor([1.0]), POS[0][0], None)
    b = g.denoise_raw(x, torch.tensor([1.0]), NEG[0][0], None)
    torch.testing.assert_close(out[..., :3], ((a + b) / 2)[..., :3], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[..., 5:], a[..., 5:], atol=1e-5, rtol=1e-5)


def test_sdxl_adm_vector():
    emb = timestep_embedding([1024.0])
    k = torch.arange(128, dtype=torch.float32)
    f = torch.exp(-math.log(10000) * k / 128)
    torch.testing.assert_close(emb[0], torch.cat([torch.cos(1024 * f), torch.sin(1024 * f)]))
    pooled = torch.randn(1, 1280, generator=G)
    y = adm_vector(pooled, {}, "sdxl", False, (128, 96))
    assert y.shape == (1, 2816)
    expected = timestep_embedding([1024, 768, 0, 0, 1024, 768]).flatten()
    torch.testing.assert_close(y[0, 1280:], expected)
    ref = adm_vector(pooled[:, :1280], {"aesthetic_score": 6.0}, "sdxl_refiner", False, (128, 128))
    assert ref.shape == (1, 2560)
    neg = adm_vector(pooled, {}, "sdxl_refiner", True, (128, 128))
    torch.testing.assert_close(neg[0, -256:], timestep_embedding([2.5])[0])
    entries = from_comfy([[torch.zeros(1, 77, 8), {"pooled_output": pooled, "width": 2048, "crop_w": 16}]])
    r = resolve(entries, (1, 4, 128, 128), MS, adm="sdxl")[0]
    torch.testing.assert_close(r.y[0, 1280 + 256 : 1280 + 512], timestep_embedding([2048])[0])
    with pytest.raises(ValueError, match="pooled_output"):
        resolve(from_comfy([[torch.zeros(1, 77, 8), {}]]), (1, 4, 8, 8), MS, adm="sdxl")


def test_schedule_denoise_and_discard_penultimate():
    s = schedule_sigmas(MS, "normal", "euler", 10, 0.5)
    assert len(s) == 11 and float(s[0]) == pytest.approx(1.48058, abs=1e-5)
    full11 = schedule_sigmas(MS, "normal", "euler", 11)
    d = schedule_sigmas(MS, "normal", "dpm_2", 10)
    assert len(d) == 11
    torch.testing.assert_close(d, torch.cat([full11[:-2], full11[-1:]]))
    assert len(schedule_sigmas(MS, "normal", "euler", 10, 0.0)) == 0
    base = schedule_sigmas(MS, "karras", "euler", 10)
    t = truncate_sigmas(base, 3, 6, force_full_denoise=True)
    assert len(t) == 4 and float(t[-1]) == 0 and float(base[6]) != 0
    torch.testing.assert_close(t[:-1], base[3:6])
    assert truncate_sigmas(base, 10, None, False) is None
    torch.testing.assert_close(truncate_sigmas(base, None, 6, False), base[:7])


def run(latent, **kw):
    args = dict(seed=7, steps=4, cfg=6.0, sampler_name="euler", scheduler="karras")
    args.update(kw)
    return sample(function_model(RecordingUNet()), POS, NEG, latent, **args)


def test_ksampler_txt2img_matches_manual_euler():
    lat = {"samples": torch.zeros(1, 4, 8, 8)}
    steps = []
    out = run(lat, callback=lambda i, n, x0: steps.append((i, n, x0.shape)))
    assert [s[:2] for s in steps] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    sig = schedule_sigmas(MS, "karras", "euler", 4)
    _, g = guider(6.0)
    x = prepare_noise(lat["samples"], 7) * (1 + sig[0] ** 2) ** 0.5
    for i in range(4):
        den = g(x, sig[i : i + 1])
        x = x + (x - den) / sig[i] * (sig[i + 1] - sig[i])
    torch.testing.assert_close(out["samples"], x / 0.18215, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(run(lat)["samples"], out["samples"], atol=0, rtol=0)


def test_ksampler_img2img_inpaint_and_passthrough():
    lat = torch.randn(1, 4, 8, 8, generator=G)
    mask = torch.zeros(1, 8, 8)
    mask[:, :4] = 1.0
    out = run({"samples": lat, "noise_mask": mask}, denoise=0.6)
    torch.testing.assert_close(out["samples"][:, :, 4:], lat[:, :, 4:], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out["samples"][:, :, :4], lat[:, :, :4])
    assert "noise_mask" in out
    ddim = run({"samples": lat, "noise_mask": mask}, denoise=0.6, sampler_name="ddim")
    torch.testing.assert_close(ddim["samples"][:, :, 4:], lat[:, :, 4:], atol=1e-5, rtol=1e-5)
    same = run({"samples": lat}, start_step=4)
    assert same["samples"] is lat
    same = run({"samples": lat}, denoise=0.0)
    assert same["samples"] is lat
    no_noise = run({"samples": lat}, add_noise=False, start_step=2, sampler_name="euler_ancestral")
    assert torch.isfinite(no_noise["samples"]).all()


class MixingUNet(RecordingUNet):
    """Adds 0.05·(spatial mean of x), so the unmasked region's noise reaches the masked one."""

    def __call__(self, x, t, context, y):
        return super().__call__(x, t, context, y) + 0.05 * x.mean(dim=(2, 3), keepdim=True)


@pytest.mark.parametrize("name", ["ddim", "euler"])
def test_inpaint_blend_noise_is_the_initial_noise_except_for_ddim(name):
    """COMPAT 9.4, written out: before each model call the unmasked part of x is the
    original plus noise·σ, after it the original. The noise is the initial noise, except for
    ddim (= euler otherwise), which blends with a fresh CPU draw seeded seed + 1."""
    lat = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(11))
    mask = torch.zeros(1, 8, 8)
    mask[:, :, :5] = 1.0
    seed, scale = 7, 0.18215
    out = sample(function_model(MixingUNet()), POS, NEG, {"samples": lat, "noise_mask": mask}, seed=seed, steps=4,
                 cfg=6.0, sampler_name=name, scheduler="karras", denoise=0.6)["samples"]
    sig = schedule_sigmas(MS, "karras", name, 4, 0.6)
    _, g = guider(6.0, unet=MixingUNet())
    latent_in, m = lat * scale, mask.expand(1, 4, 8, 8)
    noise = torch.randn(lat.shape, generator=torch.manual_seed(seed))
    blend = torch.randn(lat.shape, generator=torch.Generator().manual_seed(seed + 1)) if name == "ddim" else noise
    x = latent_in + noise * sig[0]  # not a full denoise: no √(1+σ²) scaling
    for i in range(4):
        x_in = x * m + (latent_in + blend * sig[i]) * (1 - m)
        den = g(x_in, sig[i : i + 1]) * m + latent_in * (1 - m)
        x = x + (x - den) / sig[i] * (sig[i + 1] - sig[i])
    torch.testing.assert_close(out, x / scale, atol=1e-5, rtol=1e-5)


def test_ksampler_batch_index_noise():
    lat = {"samples": torch.zeros(2, 4, 8, 8), "batch_index": [3, 1]}
    out = run(lat, steps=1, cfg=1.0)
    single = run({"samples": torch.zeros(1, 4, 8, 8), "batch_index": [1]}, steps=1, cfg=1.0)
    torch.testing.assert_close(out["samples"][1:], single["samples"], atol=1e-5, rtol=1e-5)
    assert out["batch_index"] == [3, 1]


def test_ksampler_cfg_pp_at_cfg_one_computes_the_negative():
    """ComfyUI evaluates the negative for CFG++ samplers even at cfg 1 (they turn the cfg-1
    shortcut off): every step is one batch of [negative, positive]."""
    lat = {"samples": torch.zeros(1, 4, 8, 8)}
    unet = RecordingUNet()
    out = sample(function_model(unet), POS, NEG, lat, seed=7, steps=3, cfg=1.0, sampler_name="euler_cfg_pp",
                 scheduler="karras")
    assert [c[0] for c in unet.calls] == [2, 2, 2]
    sig = schedule_sigmas(MS, "karras", "euler_cfg_pp", 3)
    _, g = guider(1.0)
    x = prepare_noise(lat["samples"], 7) * (1 + sig[0] ** 2) ** 0.5
    for i in range(3):
        cond, uncond = g.denoise_raw(x, sig[i : i + 1], POS[0][0], None), g.denoise_raw(x, sig[i : i + 1], NEG[0][0], None)
        x = cond + (x - uncond) / sig[i] * sig[i + 1]
    torch.testing.assert_close(out["samples"], x / 0.18215, atol=1e-4, rtol=1e-5)
    plain = RecordingUNet()
    sample(function_model(plain), POS, NEG, lat, seed=7, steps=3, cfg=1.0, sampler_name="euler", scheduler="karras")
    assert [c[0] for c in plain.calls] == [1, 1, 1]
