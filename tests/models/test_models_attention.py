"""ComfyUI's attention-function signature (COMPAT-PLUGINS 3.16): layouts, masks and the
override hook, the fused kernel checked against attention written out."""

from __future__ import annotations

import math

import pytest
import torch

from comfy_core.models.attention import attention_basic, optimized_attention, optimized_attention_for_device

G = torch.Generator().manual_seed(0)


def by_hand(q, k, v, heads, mask=None):
    """[B, T, h·d] -> softmax(q kᵀ/√d + mask) v per head, in float64."""
    b, tq, inner = q.shape
    d = inner // heads
    q, k, v = (t.double().reshape(b, -1, heads, d).permute(0, 2, 1, 3) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    if mask is not None:
        scores = scores + mask.double()
    return (torch.softmax(scores, dim=-1) @ v).permute(0, 2, 1, 3).reshape(b, tq, inner).float()


@pytest.mark.parametrize("fn", [optimized_attention, attention_basic], ids=["optimized", "basic"])
def test_layouts_and_masks(fn):
    q, k, v = torch.randn(2, 5, 12, generator=G), torch.randn(2, 7, 12, generator=G), torch.randn(2, 7, 12, generator=G)
    torch.testing.assert_close(fn(q, k, v, 3), by_hand(q, k, v, 3), rtol=1e-5, atol=1e-5)
    additive = torch.randn(5, 7, generator=G)
    torch.testing.assert_close(fn(q, k, v, 3, mask=additive), by_hand(q, k, v, 3, additive), rtol=1e-5, atol=1e-5)
    keep = torch.rand(2, 5, 7, generator=G) > 0.3
    keep[..., 0] = True
    as_additive = torch.zeros(2, 1, 5, 7).masked_fill(~keep[:, None], float("-inf"))
    torch.testing.assert_close(fn(q, k, v, 3, mask=keep), by_hand(q, k, v, 3, as_additive), rtol=1e-5, atol=1e-5)
    heads_first = [t.reshape(2, -1, 3, 4).transpose(1, 2) for t in (q, k, v)]
    out = fn(*heads_first, 3, skip_reshape=True, skip_output_reshape=True)
    assert out.shape == (2, 3, 5, 4)
    torch.testing.assert_close(out.transpose(1, 2).reshape(2, 5, 12), by_hand(q, k, v, 3), rtol=1e-5, atol=1e-5)


def test_override_in_transformer_options():
    q = torch.randn(1, 4, 8, generator=G)
    calls = []

    def override(func, *args, **kwargs):
        calls.append(sorted(kwargs))
        return func(*args, **kwargs) * 2  # the original runs plainly inside the override

    options = {"optimized_attention_override": override}
    out = optimized_attention(q, q, q, 2, transformer_options=options)
    torch.testing.assert_close(out, optimized_attention(q, q, q, 2) * 2)
    assert len(calls) == 1 and "transformer_options" in calls[0]
    assert optimized_attention_for_device(torch.device("cpu")) is optimized_attention
