"""The UNet's patch points (COMPAT-PLUGINS 3.10) against independent computations: attention
written out by hand, and hand-runs of the UNet's blocks with the change a patch makes, on
a small random UNet (SD1 layout: transformers in input 1 (depth 2), input 3, middle 0,
output 0-3)."""

from __future__ import annotations

import math

import pytest
import torch

from comfy_core.models.attention import SpatialTransformer, attention_basic
from comfy_core.models.family import UNetConfig
from comfy_core.models.unet import ResBlock, UNetModel, Upsample, timestep_embedding
from comfy_core.patching.extension import WrappersMP

CONFIG = UNetConfig(model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 1), transformer_depth=(2, 1),
                    transformer_depth_output=(1, 1, 1, 1), transformer_depth_middle=1, context_dim=32, num_heads=2)
ATTN_BLOCKS = [("input", 1), ("input", 1), ("input", 3), ("middle", 0), ("output", 0), ("output", 1), ("output", 2),
               ("output", 3)]


@pytest.fixture(scope="module")
def unet() -> UNetModel:
    torch.manual_seed(0)
    model = UNetModel(CONFIG).eval()
    with torch.no_grad():  # random outputs that are not near zero everywhere
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model


@pytest.fixture(scope="module")
def inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 4, 8, 8, generator=g), torch.tensor([500.0, 20.0]), torch.randn(2, 7, 32, generator=g)


def run(unet, inputs, options=None, control=None):
    x, t, ctx = inputs
    with torch.no_grad():
        return unet(x, t, ctx, control=control, transformer_options=options)


def _layers(block, h, emb, ctx, output_shape=None):
    for layer in block:
        if isinstance(layer, ResBlock):
            h = layer(h, emb)
        elif isinstance(layer, SpatialTransformer):
            h = layer(h, ctx)
        elif isinstance(layer, Upsample):
            h = layer(h, output_shape)
        else:
            h = layer(h)
    return h


def hand_run(unet, inputs, emb_scale=1.0, before_skip=None, after_skip=None, output_scale=None, residuals=None):
    """The UNet's blocks called one by one, with the named changes: `before_skip` /
    `after_skip` = (input block, factor) scaling h before / after it is kept for the skip,
    `output_scale` = (output block, factor) scaling h before the concat, `residuals` =
    {"input": [per block], "middle": tensor, "output": [per block]} added at the outputs."""
    x, t, ctx = inputs
    with torch.no_grad():
        emb = unet.time_embed(timestep_embedding(t, CONFIG.model_channels)) * emb_scale
        hs, h = [], x
        for i, block in enumerate(unet.input_blocks):
            h = _layers(block, h, emb, ctx)
            if residuals:
                h = h + residuals["input"][i]
            if before_skip and before_skip[0] == i:
                h = h * before_skip[1]
            hs.append(h)
            if after_skip and after_skip[0] == i:
                h = h * after_skip[1]
        h = _layers(unet.middle_block, h, emb, ctx)
        if residuals:
            h = h + residuals["middle"]
        for i, block in enumerate(unet.output_blocks):
            skip = hs.pop()
            if residuals:
                skip = skip + residuals["output"][i]
            if output_scale and output_scale[0] == i:
                h = h * output_scale[1]
            h = _layers(block, torch.cat([h, skip], dim=1), emb, ctx, hs[-1].shape if hs else None)
        return unet.out(h)


def by_hand_attention(q, k, v, extra):
    """softmax(q kᵀ / √d) v per head, written out."""
    heads = extra["n_heads"]
    b, tq, inner = q.shape
    d = inner // heads
    q, k, v = (t.reshape(b, -1, heads, d).permute(0, 2, 1, 3) for t in (q, k, v))
    w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
    return (w @ v).permute(0, 2, 1, 3).reshape(b, tq, inner)


def test_hand_run_equals_the_forward(unet, inputs):
    torch.testing.assert_close(run(unet, inputs), hand_run(unet, inputs), rtol=0, atol=0)


def test_attn2_replacement_by_hand_equals_unpatched_and_sees_comfyui_options(unet, inputs):
    seen = []

    def replace(q, k, v, extra):
        seen.append(extra)
        return by_hand_attention(q, k, v, extra)

    table = {key: replace for key in set(ATTN_BLOCKS)}
    out = run(unet, inputs, {"patches_replace": {"attn2": table}})
    torch.testing.assert_close(out, run(unet, inputs), rtol=1e-5, atol=1e-5)
    assert [e["block"] for e in seen] == ATTN_BLOCKS
    assert [e["block_index"] for e in seen] == [0, 1, 0, 0, 0, 0, 0, 0]
    assert [e["transformer_index"] for e in seen] == [0, 0, 1, 2, 3, 4, 5, 6]
    first = seen[0]
    assert first["original_shape"] == [2, 4, 8, 8] and first["activations_shape"] == [2, 32, 8, 8]
    assert (first["n_heads"], first["dim_head"], first["attn_precision"]) == (2, 16, None)
    assert "patches_replace" not in first and "patches" not in first


def test_replacement_key_with_index_wins_over_the_block_key(unet, inputs):
    calls = []

    def tag(name):
        def replace(q, k, v, extra):
            calls.append((name, extra["block_index"]))
            return by_hand_attention(q, k, v, extra)
        return replace

    run(unet, inputs, {"patches_replace": {"attn1": {("input", 1): tag("block"), ("input", 1, 1): tag("indexed")}}})
    assert calls == [("block", 0), ("indexed", 1)]


def test_attn1_patch_zeroing_value_equals_a_replacement_returning_zeros(unet, inputs):
    def zero_value(n, context, value, extra):
        return n, context, torch.zeros_like(value)

    patched = run(unet, inputs, {"patches": {"attn1_patch": [zero_value]}})
    zero_table = {key: (lambda q, k, v, extra: torch.zeros_like(q)) for key in set(ATTN_BLOCKS)}
    replaced = run(unet, inputs, {"patches_replace": {"attn1": zero_table}})
    torch.testing.assert_close(patched, replaced, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(patched, run(unet, inputs), atol=1e-3)


def test_attn_output_and_middle_patches_see_their_tensors(unet, inputs):
    shapes = []

    def record(n, extra):
        shapes.append(tuple(n.shape))
        return n

    plain = run(unet, inputs)
    same = run(unet, inputs, {"patches": {"attn1_output_patch": [record], "attn2_output_patch": [record],
                                          "middle_patch": [lambda x, extra: x]}})
    torch.testing.assert_close(same, plain, rtol=0, atol=0)
    assert len(shapes) == 2 * len(ATTN_BLOCKS) and shapes[0] == (2, 64, 32)


def test_output_block_patch_scaling_h(unet, inputs):
    def halve_at_one(h, hsp, options):
        return (h * 0.5, hsp) if options["block"] == ("output", 1) else (h, hsp)

    out = run(unet, inputs, {"patches": {"output_block_patch": [halve_at_one]}})
    torch.testing.assert_close(out, hand_run(unet, inputs, output_scale=(1, 0.5)), rtol=1e-5, atol=1e-5)


def test_input_block_patches_before_and_after_the_skip(unet, inputs):
    def halve_at(i):
        return lambda h, options: h * 0.5 if options["block"] == ("input", i) else h

    before = run(unet, inputs, {"patches": {"input_block_patch": [halve_at(3)]}})
    after = run(unet, inputs, {"patches": {"input_block_patch_after_skip": [halve_at(3)]}})
    torch.testing.assert_close(before, hand_run(unet, inputs, before_skip=(3, 0.5)), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(after, hand_run(unet, inputs, after_skip=(3, 0.5)), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(before, after, atol=1e-4)


def test_emb_patch(unet, inputs):
    seen = []

    def double(emb, model_channels, options):
        seen.append(model_channels)
        return emb * 2

    out = run(unet, inputs, {"patches": {"emb_patch": [double]}})
    torch.testing.assert_close(out, hand_run(unet, inputs, emb_scale=2.0), rtol=1e-5, atol=1e-5)
    assert seen == [32]


def test_forward_timestep_embed_patch_replaces_layers_of_its_class(unet, inputs):
    calls = []

    def handler(layer, x, emb, context, options, output_shape, time_context, frames, indicator):
        calls.append(options["block"])
        return layer(x, emb)

    out = run(unet, inputs, {"patches": {"forward_timestep_embed_patch": [(ResBlock, handler)]}})
    torch.testing.assert_close(out, run(unet, inputs), rtol=0, atol=0)
    assert calls == [("input", 1), ("input", 3), ("middle", 0), ("middle", 0)] + [("output", i) for i in range(4)]


def test_attention_override_is_called_with_the_attention_function(unet, inputs):
    calls = []

    def override(func, q, k, v, heads, **kwargs):
        calls.append((func.__name__, heads, "transformer_options" in kwargs))
        return attention_basic(q, k, v, heads, mask=kwargs.get("mask"))

    out = run(unet, inputs, {"optimized_attention_override": override})
    torch.testing.assert_close(out, run(unet, inputs), rtol=1e-5, atol=1e-5)
    assert calls == [("attention_pytorch", 2, True)] * (2 * len(ATTN_BLOCKS))


def test_control_residuals_are_added_at_comfyui_points(unet, inputs):
    shapes = []

    def keep(h, options):
        shapes.append(h.shape)
        return h

    run(unet, inputs, {"patches": {"input_block_patch": [keep]}})
    g = torch.Generator().manual_seed(5)
    input_res = [torch.randn(s, generator=g) for s in shapes]
    output_res = [torch.randn(s, generator=g) for s in reversed(shapes)]
    middle = torch.randn(shapes[-1], generator=g)
    control = {"input": list(reversed(input_res)), "middle": [middle], "output": list(reversed(output_res))}
    out = run(unet, inputs, control=control)
    want = hand_run(unet, inputs, residuals={"input": input_res, "middle": middle, "output": output_res})
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    assert control == {"input": [], "middle": [], "output": []}  # popped from the end


def test_diffusion_model_wrapper(unet, inputs):
    seen = []

    def wrapper(executor, x, timesteps, context, y, control, transformer_options, **kw):
        seen.append(executor.class_obj)
        return executor(x, timesteps, context, y, control, transformer_options, **kw) * 2

    out = run(unet, inputs, {"wrappers": {WrappersMP.DIFFUSION_MODEL: {None: [wrapper]}}})
    torch.testing.assert_close(out, run(unet, inputs) * 2, rtol=0, atol=0)
    assert seen == [unet]
