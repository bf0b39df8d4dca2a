"""Guidance rules and UNet patches against independent references: RescaleCFG vs diffusers'
rescale_noise_cfg in v space, the post/pre-CFG rules vs their papers' formulas written
out here, ToMe vs the tomesd package, HyperTile vs attention computed tile by tile,
Deep Shrink vs a hand resize, Differential Diffusion's threshold vs its formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from comfy_core.model_patches import guidance as g
from comfy_core.model_patches import tome, unet_patches as up
from comfy_core.model_patches.sampling_patches import DifferentialDiffusion
from comfy_core.models.attention import attention_basic
from comfy_core.sampling.model_sampling import ModelSampling

GEN = torch.Generator().manual_seed(0)
X = torch.randn(2, 4, 8, 8, generator=GEN) * 4
COND, UNCOND = X * 0.3 + torch.randn(2, 4, 8, 8, generator=GEN), X * 0.2 + torch.randn(2, 4, 8, 8, generator=GEN)
SIGMA = torch.tensor([3.0, 3.0])
W = 6.0


def post_args(**extra):
    cfg = UNCOND + W * (COND - UNCOND)
    return {"denoised": cfg, "cond_denoised": COND, "uncond_denoised": UNCOND, "input": X, "sigma": SIGMA,
            "cond_scale": W, **extra}


def test_rescale_cfg_matches_diffusers_rescale_noise_cfg_in_v_space():
    from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import rescale_noise_cfg

    s = SIGMA.view(-1, 1, 1, 1)
    alpha, sigma_vp = 1 / (1 + s**2) ** 0.5, s / (1 + s**2) ** 0.5
    v = lambda d: alpha * (X - d) / s - sigma_vp * d  # noqa: E731 (v = α·ε − σ·x0 of the VP process)
    v_cfg = v(UNCOND) + W * (v(COND) - v(UNCOND))
    v_final = rescale_noise_cfg(v_cfg, v(COND), guidance_rescale=0.7)
    expected = alpha**2 * X - sigma_vp * v_final  # x0 = α·x_t − σ·v, x_t = α·x
    args = {"input": X, "cond": X - COND, "uncond": X - UNCOND, "cond_scale": W, "sigma": SIGMA}
    torch.testing.assert_close(X - g.make_rescale_cfg(0.7)(args), expected, rtol=1e-4, atol=1e-4)


def test_cfg_zero_star_is_the_paper_rule_on_denoised_predictions():
    nc, nu = (X - COND).flatten(1), (X - UNCOND).flatten(1)
    s = ((nc * nu).sum(1) / (nu * nu).sum(1)).view(-1, 1, 1, 1)  # Fan et al. 2025, eq. 7
    torch.testing.assert_close(g.make_cfg_zero_star()(post_args()), s * UNCOND + W * (COND - s * UNCOND))


def test_cfg_norm_epsilon_scaling_and_mahiro_formulas():
    cfg = post_args()["denoised"]
    norm = torch.linalg.vector_norm
    expected = cfg * (norm(COND, dim=1, keepdim=True) / norm(cfg, dim=1, keepdim=True)).clamp(max=1.0) * 0.8
    torch.testing.assert_close(g.make_cfg_norm(0.8)(post_args()), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g.make_epsilon_scaling(1.01)(post_args()), X - (X - cfg) / 1.01)
    leap, merge = COND * W, (COND * W + cfg) / 2
    root = lambda t: t.abs().sqrt() * t.sign()  # noqa: E731
    sim = F.cosine_similarity(root(UNCOND * W), root(merge), dim=1).mean()
    weight = 2 * (sim + 1)
    torch.testing.assert_close(g.make_mahiro()(post_args()), (weight * cfg + (4 - weight) * leap) / 4)


class _Holder:
    def get_model_object(self, name):
        return ModelSampling()


def test_temporal_score_rescaling_follows_eq_6():
    """VE models: SNR = 1/σ², r = (SNR·σ_t²+1)/(SNR·σ_t²/k+1), noise part times r."""
    model = type("M", (), {"current_patcher": _Holder()})()
    out = g.make_temporal_score_rescaling(0.9, 1.5)(post_args(model=model))
    snr = 1 / 9.0
    r = (snr * 2.25 + 1) / (snr * 2.25 / 0.9 + 1)
    cfg = post_args()["denoised"]
    torch.testing.assert_close(out, X - r * (X - cfg))


def test_apg_follows_algorithm_1_with_comfyui_scale():
    """Sadat et al. 2024, Alg. 1 (momentum, norm clamp, parallel part times η) applied as
    D_c + w·Δ' (ComfyUI's APG node: the paper's rule at guidance scale w + 1)."""
    apg = g.AdaptiveProjectedGuidance(eta=0.3, norm_threshold=2.0, momentum=-0.5)
    running = None
    for step, sigma in enumerate((5.0, 3.0)):
        cond, uncond = COND + step, UNCOND - step
        args = {"conds_out": [cond, uncond], "sigma": torch.tensor([sigma]), "cond_scale": W}
        new_cond, same_uncond = apg(args)
        diff = cond - uncond
        running = diff if running is None else -0.5 * running + diff
        d = running * torch.clamp(2.0 / running.flatten(1).norm(dim=1).view(-1, 1, 1, 1), max=1.0)
        unit = cond / cond.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        par = (d * unit).flatten(1).sum(1).view(-1, 1, 1, 1) * unit
        expected = cond + W * ((d - par) + 0.3 * par)
        torch.testing.assert_close(uncond + W * (new_cond - uncond), expected, rtol=1e-5, atol=1e-5)
        assert same_uncond is uncond


def test_fresca_and_tcfg_formulas():
    out = g.make_fresca(0.5, 2.0, 2)({"conds_out": [COND, UNCOND]})
    spec = torch.fft.fftshift(torch.fft.fft2(COND - UNCOND), dim=(-2, -1))
    mask = torch.full((8, 8), 2.0)
    mask[2:6, 2:6] = 0.5
    expected = torch.fft.ifft2(torch.fft.ifftshift(spec * mask, dim=(-2, -1))).real + UNCOND
    torch.testing.assert_close(out[0], expected, rtol=1e-4, atol=1e-4)
    damped = g.make_tcfg()({"conds_out": [COND, UNCOND], "conds": [[1], [1]], "input": X})[1]
    for i in range(2):  # project ε_u on the top right-singular vector of [ε_u; ε_c]
        m = torch.stack([(X - UNCOND)[i].flatten(), (X - COND)[i].flatten()])
        v1 = torch.linalg.svd(m, full_matrices=False).Vh[0]
        expected = X[i] - ((X - UNCOND)[i].flatten() @ v1 * v1).view(4, 8, 8)
        torch.testing.assert_close(damped[i], expected, rtol=1e-4, atol=1e-4)


def test_tome_matches_tomesd_bipartite_soft_matching():
    from tomesd.merge import bipartite_soft_matching_random2d

    x = torch.randn(2, 12 * 10, 16, generator=GEN)
    ours = tome.bipartite_soft_matching(x, w=10, h=12, r=40, generator=torch.Generator().manual_seed(5))
    theirs = bipartite_soft_matching_random2d(x, w=10, h=12, sx=2, sy=2, r=40,
                                              generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(ours[0](x), theirs[0](x))
    y = torch.randn(2, 80, 16, generator=GEN)
    torch.testing.assert_close(ours[1](y), theirs[1](y))
    assert ours[0](x).shape == (2, 80, 16)


def test_hypertile_attends_within_each_tile():
    patch = up.HyperTileIn(model_channels=16, latent_tile=4, swap_size=1, max_depth=0, scale_depth=False)
    n = torch.randn(1, 8 * 8, 16, generator=GEN)
    extra = {"original_shape": [1, 4, 8, 8]}
    q, k, v = patch(n, n, n, extra)
    out = up.hypertile_out(attention_basic(q, k, v, 2), extra)
    grid = n.view(1, 8, 8, 16)
    for ty in range(2):
        for tx in range(2):
            tile = grid[:, 4 * ty:4 * ty + 4, 4 * tx:4 * tx + 4].reshape(1, 16, 16)
            ref = attention_basic(tile, tile, tile, 2).view(1, 4, 4, 16)
            torch.testing.assert_close(out.view(1, 8, 8, 16)[:, 4 * ty:4 * ty + 4, 4 * tx:4 * tx + 4], ref)
    other = torch.randn(1, 16, 32)
    assert patch(other, other, other, {"original_shape": [1, 4, 8, 8]})[0] is other  # not this level
    assert patch.to("cpu").counter == 1 and patch.counter == 3


def test_deep_shrink_resizes_the_chosen_block_inside_its_window():
    shrink = up.DeepShrinkIn(block_number=3, factor=2.0, sigma_start=10.0, sigma_end=1.0, method="bilinear")
    h = torch.randn(1, 8, 16, 12, generator=GEN)
    inside = {"block": ("input", 3), "sigmas": torch.tensor([5.0])}
    torch.testing.assert_close(shrink(h, inside), F.interpolate(h, size=(8, 6), mode="bilinear",
                                                                align_corners=False, antialias=False))
    assert shrink(h, {**inside, "block": ("input", 2)}) is h
    assert shrink(h, {**inside, "sigmas": torch.tensor([0.5])}) is h
    small, skip = torch.randn(1, 8, 8, 6), torch.randn(1, 8, 16, 12)
    back, same = up.DeepShrinkOut("nearest-exact")(small, skip, {})
    assert back.shape == (1, 8, 16, 12) and same is skip
    torch.testing.assert_close(back, small.repeat_interleave(2, 2).repeat_interleave(2, 3))


@pytest.mark.parametrize("strength", [1.0, 0.4])
def test_differential_diffusion_thresholds_by_progress(strength):
    ms = ModelSampling()
    sigmas = ms.sigmas[torch.tensor([999, 700, 400, 100])].flip(0).flip(0)
    mask = torch.linspace(0, 1, 11).view(1, 1, 1, 11)
    model = type("G", (), {"inner_model": type("B", (), {"model_sampling": ms})()})()
    fn = DifferentialDiffusion(strength)
    for sigma in sigmas[:3]:
        t = (ms.timestep(sigma) - ms.timestep(sigmas[-1])) / (ms.timestep(sigmas[0]) - ms.timestep(sigmas[-1]))
        binary = (mask >= t).float()
        expected = binary if strength == 1.0 else strength * binary + (1 - strength) * mask
        torch.testing.assert_close(fn(sigma.view(1), mask, {"model": model, "sigmas": sigmas}), expected)
