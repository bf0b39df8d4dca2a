"""Cross-attention transformer of the LDM UNet (Rombach et al. 2022, "High-Resolution Image
Synthesis with Latent Diffusion Models"), with the patch points plugins use
(COMPAT-PLUGINS 3.10, 3.16). Attribute names follow the checkpoint keys
(`transformer_blocks.N.attn1.to_q`, `ff.net.0.proj`, ...) so weights load unconverted.

Attention functions share ComfyUI's signature `fn(q, k, v, heads, mask=None,
attn_precision=None, skip_reshape=False, skip_output_reshape=False, **kw)`: q, k, v are
[B, tokens, heads·dim_head] (or [B, heads, tokens, dim_head] with `skip_reshape`), the
result [B, tokens_q, heads·dim_head] (or per head with `skip_output_reshape`). When the
`transformer_options` passed along hold an `optimized_attention_override`, it is called
as `override(fn, q, k, v, heads, ...)` instead.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from comfy_core.patching.model_options import ATTENTION_OVERRIDE, replace_patches, transformer_patches

_INSIDE = "_inside_attn_wrapper"  # set while an override runs, so the original runs plainly


def wrap_attn(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Let `transformer_options["optimized_attention_override"]` take over calls to `fn`."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> torch.Tensor:
        if kwargs.pop(_INSIDE, False):
            return fn(*args, **kwargs)
        override = (kwargs.get("transformer_options") or {}).get(ATTENTION_OVERRIDE)
        if override is None:
            return fn(*args, **kwargs)
        return override(call, *args, **{**kwargs, _INSIDE: True})

    return call


def _split_heads(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                 skip_reshape: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[B, T, h·d] -> [B, h, T, d] (unless already so)."""
    if skip_reshape:
        return q, k, v
    b, dh = q.shape[0], q.shape[-1] // heads
    return tuple(t.reshape(b, -1, heads, dh).transpose(1, 2) for t in (q, k, v))  # type: ignore[return-value]


def _merge_heads(out: torch.Tensor, skip_output_reshape: bool) -> torch.Tensor:
    """[B, h, T, d] -> [B, T, h·d] (unless asked to keep the heads)."""
    if skip_output_reshape:
        return out
    b, h, t, d = out.shape
    return out.transpose(1, 2).reshape(b, t, h * d)


def _mask_4d(mask: torch.Tensor | None) -> torch.Tensor | None:
    """An additive or boolean mask [q, k], [B, q, k] or [B, h, q, k] -> broadcastable 4-D."""
    if mask is None:
        return None
    while mask.ndim < 4:
        mask = mask.unsqueeze(0) if mask.ndim == 2 else mask.unsqueeze(1)
    return mask


@wrap_attn
def attention_basic(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None,
                    attn_precision: torch.dtype | None = None, skip_reshape: bool = False,
                    skip_output_reshape: bool = False, **kwargs: Any) -> torch.Tensor:
    """softmax(q·kᵀ/√d + mask)·v written out (Vaswani et al. 2017); scores in float32 when
    `attn_precision` is float32. The reference the fused kernel is checked against."""
    q, k, v = _split_heads(q, k, v, heads, skip_reshape)
    scale = 1.0 / math.sqrt(q.shape[-1])
    dtype = attn_precision or q.dtype
    scores = (q.to(dtype) @ k.to(dtype).transpose(-2, -1)) * scale  # [B, h, Tq, Tk]
    mask = _mask_4d(mask)
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min) if mask.dtype == torch.bool \
            else scores + mask.to(scores.dtype)
    out = scores.softmax(dim=-1).to(v.dtype) @ v  # [B, h, Tq, d]
    return _merge_heads(out, skip_output_reshape)


@wrap_attn
def attention_pytorch(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None,
                      attn_precision: torch.dtype | None = None, skip_reshape: bool = False,
                      skip_output_reshape: bool = False, **kwargs: Any) -> torch.Tensor:
    """Fused scaled-dot-product attention (torch's kernel for the device)."""
    q, k, v = _split_heads(q, k, v, heads, skip_reshape)
    mask = _mask_4d(mask)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask.to(q.device))
    return _merge_heads(out, skip_output_reshape)


optimized_attention = attention_pytorch
optimized_attention_masked = attention_pytorch


def optimized_attention_for_device(device: Any = None, mask: bool = False,
                                   small_input: bool = False) -> Callable[..., torch.Tensor]:
    """The attention function for `device` (torch's fused kernel on every device)."""
    return attention_pytorch


class CrossAttention(nn.Module):
    """Self-attention when `context` is None, else attention over `context` tokens; `value`
    replaces the tokens the values are projected from (attn1/attn2 patches set it)."""

    def __init__(self, query_dim: int, context_dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.dim_head = dim_head
        self.attn_precision: torch.dtype | None = None
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, value: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, transformer_options: dict | None = None) -> torch.Tensor:
        context = x if context is None else context
        value = context if value is None else value
        out = optimized_attention(self.to_q(x), self.to_k(context), self.to_v(value), self.heads, mask=mask,
                                  attn_precision=self.attn_precision, transformer_options=transformer_options)
        return self.to_out(out)


class GEGLU(nn.Module):
    """GELU-gated linear unit (Shazeer 2020, "GLU Variants Improve Transformer")."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, gate = self.proj(x).chunk(2, dim=-1)
        return x * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * mult), nn.Dropout(0.0), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _patch_options(transformer_options: dict, block: "BasicTransformerBlock") -> dict:
    """What block patches receive: the transformer options without the patch tables, plus
    the block's head layout."""
    extra = {k: v for k, v in transformer_options.items() if k not in ("patches", "patches_replace")}
    extra.update(n_heads=block.n_heads, dim_head=block.d_head, attn_precision=block.attn_precision)
    return extra


def _replacement(table: dict, block: Any, block_index: int) -> Any:
    """patches_replace entry for (name, id, index), else for (name, id), else None."""
    if block is None or not table:
        return None
    found = table.get((block[0], block[1], block_index))
    return found if found is not None else table.get(block)


class BasicTransformerBlock(nn.Module):
    """Pre-norm self-attention, cross-attention and GEGLU feed-forward, each residual, with
    the attn1/attn2 patches, replacements and output patches and the middle patch. With
    `disable_self_attn` the first attention attends to the context too (the x4 upscaler)."""

    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int,
                 disable_self_attn: bool = False) -> None:
        super().__init__()
        self.n_heads, self.d_head = heads, dim_head
        self.attn_precision: torch.dtype | None = None
        self.disable_self_attn = disable_self_attn
        # ComfyUI's video-block options, always off in image UNets; plugins that re-implement
        # this forward read them (no input feed-forward, residuals keep the width, the
        # cross-attention attends to the context).
        self.ff_in, self.is_res, self.switch_temporal_ca_to_sa = False, True, False
        self.attn1 = CrossAttention(dim, context_dim if disable_self_attn else dim, heads, dim_head)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, context_dim, heads, dim_head)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                transformer_options: dict | None = None) -> torch.Tensor:
        options = transformer_options or {}
        if not options.get("patches") and not options.get("patches_replace"):
            ctx1 = context if self.disable_self_attn else None
            x = self.attn1(self.norm1(x), ctx1, transformer_options=options) + x
            x = self.attn2(self.norm2(x), context, transformer_options=options) + x
            return self.ff(self.norm3(x)) + x
        return self._patched(x, context, options)

    def _attention(self, attn: CrossAttention, n: torch.Tensor, context: torch.Tensor | None,
                   value: torch.Tensor | None, replace: Any, extra: dict, options: dict) -> torch.Tensor:
        """One attention step: the replacement `replace(q, k, v, extra)` on the projections
        (its output goes through to_out) when one is set, else the module itself."""
        if replace is None:
            return attn(n, context=context, value=value, transformer_options=options)
        context = n if context is None else context
        value = context if value is None else value
        out = replace(attn.to_q(n), attn.to_k(context), attn.to_v(value), extra)
        return attn.to_out(out)

    def _patched(self, x: torch.Tensor, context: torch.Tensor | None, options: dict) -> torch.Tensor:
        patches, extra = transformer_patches(options), _patch_options(options, self)
        block, index = options.get("block"), options.get("block_index", 0)
        n, value1 = self.norm1(x), None
        ctx1 = context if self.disable_self_attn else None
        if "attn1_patch" in patches:
            ctx1 = n if ctx1 is None else ctx1
            value1 = ctx1
            for p in patches["attn1_patch"]:
                n, ctx1, value1 = p(n, ctx1, value1, extra)
        n = self._attention(self.attn1, n, ctx1, value1, _replacement(replace_patches(options, "attn1"), block, index),
                            extra, options)
        for p in patches.get("attn1_output_patch", []):
            n = p(n, extra)
        x = n + x
        for p in patches.get("middle_patch", []):
            x = p(x, extra)
        n, ctx2, value2 = self.norm2(x), context, None
        if "attn2_patch" in patches:
            value2 = ctx2
            for p in patches["attn2_patch"]:
                n, ctx2, value2 = p(n, ctx2, value2, extra)
        n = self._attention(self.attn2, n, ctx2, value2, _replacement(replace_patches(options, "attn2"), block, index),
                            extra, options)
        for p in patches.get("attn2_output_patch", []):
            n = p(n, extra)
        x = n + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    """Transformer over the pixels of a feature map, with 1x1-conv (SD1) or linear (SD2/SDXL)
    projections in and out, added back to its input. Sets `activations_shape` and, per
    block, `block_index` in the transformer options the blocks see."""

    def __init__(
        self, channels: int, heads: int, dim_head: int, depth: int, context_dim: int, linear: bool,
        disable_self_attn: bool = False,
    ) -> None:
        super().__init__()
        inner = heads * dim_head
        self.linear = linear
        self.in_channels = channels
        self.norm = nn.GroupNorm(32, channels, eps=1e-6)
        if linear:
            self.proj_in = nn.Linear(channels, inner)
            self.proj_out = nn.Linear(inner, channels)
        else:
            self.proj_in = nn.Conv2d(channels, inner, 1)
            self.proj_out = nn.Conv2d(inner, channels, 1)
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(inner, heads, dim_head, context_dim, disable_self_attn) for _ in range(depth)
        )

    def forward(self, x: torch.Tensor, context: torch.Tensor | list | None = None,
                transformer_options: dict | None = None) -> torch.Tensor:
        options = {} if transformer_options is None else transformer_options
        contexts = context if isinstance(context, list) else [context] * len(self.transformer_blocks)
        b, c, h, w = x.shape
        options["activations_shape"] = list(x.shape)
        x_in = x
        x = self.norm(x)
        if not self.linear:
            x = self.proj_in(x)
        x = x.flatten(2).transpose(1, 2)  # (B, h*w, C)
        if self.linear:
            x = self.proj_in(x)
        for i, block in enumerate(self.transformer_blocks):
            options["block_index"] = i
            x = block(x, contexts[i], transformer_options=options)
        if self.linear:
            x = self.proj_out(x)
        # (B, C, h, w) made contiguous: the reshaped view has channels-last strides, which
        # would make every later convolution re-layout its weights on each call.
        x = x.transpose(1, 2).reshape(b, -1, h, w).contiguous()
        if not self.linear:
            x = self.proj_out(x)
        return x + x_in
