"""The patch nodes on real MODEL values: every node runs in a KSampler workflow on a tiny
SD1.5 checkpoint and leaves the input MODEL untouched; step caches skip and reuse by their
rule on a deterministic model; ModelComputeDtype is per clone; the attention multipliers
scale exactly the named weights; TorchCompileModel compiles on the CPU."""

from __future__ import annotations

import pytest
import torch

from comfy_core.model_patches.step_cache import LazyCache, SUBSAMPLE
from comfy_core.sampling.model_sampling import ModelSampling
from tests.nodes.nodes_models_helpers import empty_latent, encode, ksample, load, models_app, run  # noqa: F401

CASES = {
    "FreeU": dict(b1=1.1, b2=1.2, s1=0.9, s2=0.2),
    "FreeU_V2": dict(b1=1.3, b2=1.4, s1=0.9, s2=0.2),
    "HyperTile": dict(tile_size=32, swap_size=2, max_depth=0, scale_depth=False),
    "PatchModelAddDownscale": dict(block_number=1, downscale_factor=2.0, start_percent=0.0, end_percent=0.5,
                                   downscale_after_skip=True, downscale_method="bicubic", upscale_method="bislerp"),
    "TomePatchModel": dict(ratio=0.5),
    "SelfAttentionGuidance": dict(scale=0.5, blur_sigma=2.0),
    "PerturbedAttentionGuidance": dict(scale=3.0),
    "UNetSelfAttentionMultiply": dict(q=1.1, k=1.0, v=0.9, out=1.0),
    "UNetCrossAttentionMultiply": dict(q=1.1, k=1.0, v=0.9, out=1.2),
    "Epsilon Scaling": dict(scaling_factor=1.05),
    "TemporalScoreRescaling": dict(tsr_k=0.8, tsr_sigma=1.0),
    "Mahiro": {}, "CFGZeroStar": {}, "CFGNorm": dict(strength=0.9), "TCFG": {},
    "FreSca": dict(scale_low=1.0, scale_high=1.25, freq_cutoff=2),
    "APG": dict(eta=0.5, norm_threshold=5.0, momentum=-0.5),
    "RescaleCFG": dict(multiplier=0.7),
    "ModelSamplingDiscrete": dict(sampling="v_prediction", zsnr=True),
    "ModelSamplingContinuousEDM": dict(sampling="edm", sigma_max=80.0, sigma_min=0.002),
    "ModelSamplingContinuousV": dict(sampling="v_prediction", sigma_max=500.0, sigma_min=0.03),
    "ModelComputeDtype": dict(dtype="bf16"),
}


@pytest.fixture(scope="module")
def sd15(models_app):  # noqa: F811
    model, clip, _ = load("sd15")
    pos, neg = encode(clip, "a red circle"), encode(clip, "blurry")
    latent = empty_latent(64)
    return model, clip, pos, neg, latent, ksample(model, pos, neg, latent)["samples"]


def test_every_patch_node_changes_sampling_and_leaves_its_input_alone(sd15):
    model, clip, pos, neg, latent, plain = sd15
    cases = {**CASES, "PerpNeg": dict(empty_conditioning=encode(clip, ""), neg_scale=1.0)}
    for name, inputs in cases.items():
        (patched,) = run(name, model=model, **inputs)[:1]
        out = ksample(patched, pos, neg, latent)["samples"]
        assert torch.isfinite(out).all(), name
        assert (out - plain).abs().max() > 1e-4, f"{name} changed nothing"
    assert torch.equal(ksample(model, pos, neg, latent)["samples"], plain)


def test_model_compute_dtype_is_per_clone(sd15):
    model = sd15[0]
    (bf16,) = run("ModelComputeDtype", model=model, dtype="bf16")
    assert bf16.model_options is not model.model_options
    assert bf16.get_model_object("manual_cast_dtype") == torch.bfloat16
    assert model.get_model_object("manual_cast_dtype") is None


def test_attention_multiply_scales_exactly_the_named_weights(sd15):
    model, clip = sd15[0], sd15[1]
    (patched,) = run("UNetCrossAttentionMultiply", model=model, q=2.0, k=1.0, v=0.5, out=1.0)
    assert set(patched.patches) == {k for k in model.model_state_dict()
                                    if ".attn2.to_q." in k or ".attn2.to_v." in k or ".attn2.to_out.0." in k
                                    or ".attn2.to_k." in k}
    key = next(k for k in patched.patches if k.endswith("attn2.to_q.weight"))
    original = model.model_state_dict()[key].clone()
    patched.patch_model()
    torch.testing.assert_close(patched.model.state_dict()[key], original * 2.0)
    patched.unpatch_model()
    (c,) = run("CLIPAttentionMultiply", clip=clip, q=1.0, k=3.0, v=1.0, out=1.0)
    assert c.patcher.patches and all("self_attn" in k for k in c.patcher.patches)


def test_lazycache_skips_and_reuses_by_its_rule():
    """f(x) = 2x + 1: after two computed calls k = 2; a call whose accumulated predicted
    change 2·Δin/‖o‖ stays under the threshold returns x + (o_prev − x_prev)."""
    cache = LazyCache(reuse_threshold=0.5, start_percent=0.0, end_percent=1.0, channels=4).prepare(ModelSampling())
    calls = []

    def executor(x, sigma, options, seed):
        calls.append(x)
        return 2 * x + 1

    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(1, 4, 16, 16, generator=g)]
    for step in (0.05, 0.05, 0.05, 5.0):
        xs.append(xs[-1] + step * torch.randn(1, 4, 16, 16, generator=g))
    sigma = torch.tensor([1.0])
    outs = [cache.predict(executor, (x, sigma, {}, 0), {}) for x in xs]
    sub = lambda t: t[..., ::SUBSAMPLE, ::SUBSAMPLE]  # noqa: E731
    norm = outs[1].abs().mean()
    predicted = 2 * (sub(xs[2]) - sub(xs[1])).abs().mean() / norm
    assert predicted < 0.5 and len(calls) == 3 and cache.skipped == 2  # calls 3 and 4 skipped, 5 (a jump) ran
    torch.testing.assert_close(outs[2], xs[2] + (outs[1] - xs[1]))  # reused the last computed change
    torch.testing.assert_close(outs[3], xs[3] + (outs[1] - xs[1]))
    torch.testing.assert_close(outs[4], 2 * xs[4] + 1)


def test_easycache_skips_model_calls_in_its_window(sd15):
    model, _, pos, neg, latent, _ = sd15
    calls = []
    (cached,) = run("EasyCache", model=model, reuse_threshold=3.0, start_percent=0.0, end_percent=1.0, verbose=False)

    def count(executor, *args, **kwargs):
        calls.append(1)
        return executor(*args, **kwargs)

    from comfy_core.patching.extension import WrappersMP
    cached.add_wrapper_with_key(WrappersMP.APPLY_MODEL, "count", count)
    out = ksample(cached, pos, neg, latent, steps=6)["samples"]
    full = ksample(model, pos, neg, latent, steps=6)["samples"]
    assert len(calls) == 6 and torch.isfinite(out).all()  # apply_model runs; the UNet is skipped inside
    assert not torch.equal(out, full)


def test_torch_compile_model_runs_compiled_on_the_cpu(sd15):
    from torch._inductor.cpp_builder import get_cpp_compiler
    from torch._inductor.exc import InvalidCxxCompiler

    try:
        get_cpp_compiler()
    except InvalidCxxCompiler:  # the one precondition; any compile failure is a failure
        pytest.skip("inductor's CPU backend needs a C++ compiler and this machine has none")
    model, _, pos, neg, latent, plain = sd15
    (compiled,) = run("TorchCompileModel", model=model, backend="inductor")
    out = ksample(compiled, pos, neg, latent)["samples"]
    torch.testing.assert_close(out, plain, rtol=1e-3, atol=1e-3)
    wrapper = compiled.get_wrappers("apply_model", "torch_compile")[0]
    assert wrapper.compiled and model.model.diffusion_model.__class__.__name__ == "UNetModel"
