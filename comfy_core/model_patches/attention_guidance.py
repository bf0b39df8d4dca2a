"""Guidance from a degraded second prediction, built on attn1 replacements and post-CFG
functions:

- Self-Attention Guidance (Hong et al. 2023, "Improving Sample Quality of Diffusion Models
  Using Self-Attention Guidance"): the unconditional prediction's middle-block
  self-attention map marks the regions it attends to; those are blurred in the
  unconditional x0, re-noised with the same noise, predicted again, and the result pushes
  away from that degraded prediction: D' = D_cfg + s·(x0_blur − D(x_blur)).
- Perturbed-Attention Guidance (Ahn et al. 2024, "Self-Rectifying Diffusion Sampling with
  Perturbed-Attention Guidance"): the positive is predicted again with the middle block's
  self-attention maps replaced by the identity (output = values), and
  D' = D_cfg + s·(D_pos − D_perturbed).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from comfy_core.patching.model_options import set_model_options_patch_replace
from comfy_core.sampling.model_call import calc_cond_batch

SAG_THRESHOLD = 1.0  # attention mass above which a query position counts as attended
SAG_KERNEL = 9


def attention_with_scores(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int,
                          attn_precision: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q·kᵀ/√d)·v for q, k, v [B, T, heads·d]; returns (out [B, Tq, heads·d],
    probabilities [B·heads, Tq, Tk])."""
    b, _, inner = q.shape
    d = inner // heads
    split = lambda t: t.reshape(b, -1, heads, d).permute(0, 2, 1, 3).reshape(b * heads, -1, d)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    dtype = attn_precision or q.dtype
    probs = ((q.to(dtype) @ k.to(dtype).transpose(-1, -2)) * d**-0.5).softmax(dim=-1)
    out = probs.to(v.dtype) @ v  # [B·heads, Tq, d]
    return out.reshape(b, heads, -1, d).permute(0, 2, 1, 3).reshape(b, -1, heads * d), probs


def gaussian_blur_2d(img: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """Separable-kernel Gaussian blur per channel with reflected borders."""
    half = (kernel_size - 1) * 0.5
    pdf = torch.exp(-0.5 * (torch.linspace(-half, half, steps=kernel_size) / sigma).pow(2))
    k1 = (pdf / pdf.sum()).to(device=img.device, dtype=img.dtype)
    kernel = (k1[:, None] @ k1[None, :]).expand(img.shape[-3], 1, kernel_size, kernel_size)
    pad = kernel_size // 2
    return F.conv2d(F.pad(img, [pad, pad, pad, pad], mode="reflect"), kernel, groups=img.shape[-3])


def blur_attended(x0: torch.Tensor, probs: torch.Tensor, sigma: float, threshold: float = SAG_THRESHOLD) -> torch.Tensor:
    """x0 [B, C, H, W] blurred where the attention map [B·heads, T, T] of the middle block
    puts more than `threshold` summed (head-averaged) attention on a position."""
    _, t, _ = probs.shape
    b, _, h, w = x0.shape
    attended = probs.reshape(b, -1, t, t).mean(1).sum(1) > threshold  # [B, T]
    ratio = 2 ** (math.ceil(math.sqrt(h * w / t)) - 1).bit_length()  # the middle block's downsampling
    mask = attended.reshape(b, math.ceil(h / ratio), math.ceil(w / ratio)).unsqueeze(1).to(probs.dtype)
    mask = F.interpolate(mask, (h, w)).to(x0.dtype)  # nearest
    return gaussian_blur_2d(x0, SAG_KERNEL, sigma) * mask + x0 * (1 - mask)


class SelfAttentionGuidance:
    """Both halves of SAG on one object: `record` is the attn1 replacement of the first
    middle-block transformer (full attention, keeping the unconditional rows' map) and
    `post_cfg` the post-CFG function that uses it."""

    def __init__(self, scale: float, blur_sigma: float) -> None:
        self.scale, self.blur_sigma = scale, blur_sigma
        self.scores: torch.Tensor | None = None

    def record(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra: dict) -> torch.Tensor:
        heads, sides = extra["n_heads"], extra["cond_or_uncond"]
        out, probs = attention_with_scores(q, k, v, heads, extra.get("attn_precision"))
        if 1 in sides:
            per_side = heads * (q.shape[0] // len(sides))
            i = sides.index(1)
            self.scores = probs[per_side * i: per_side * (i + 1)]
        return out

    def post_cfg(self, args: dict) -> torch.Tensor:
        guided, uncond_pred, x = args["denoised"], args["uncond_denoised"], args["input"]
        if self.scores is None or min(guided.shape[2:]) <= 4:  # too small to pad for the blur
            return guided
        degraded = blur_attended(uncond_pred, self.scores, self.blur_sigma)
        (sag,) = calc_cond_batch(args["model"], [args["uncond"]], degraded + x - uncond_pred, args["sigma"],
                                 args["model_options"])
        return guided + (degraded - sag) * self.scale


def identity_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra: dict, mask: Any = None) -> torch.Tensor:
    """PAG's perturbed self-attention: the identity map, so the output is the values."""
    return v


class PerturbedAttentionGuidance:
    """PAG's post-CFG function: the positive again with the middle block's self-attention
    perturbed, pushed away from by `scale`."""

    BLOCK = ("middle", 0)

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __call__(self, args: dict) -> torch.Tensor:
        guided = args["denoised"]
        if self.scale == 0:
            return guided
        options = set_model_options_patch_replace(dict(args["model_options"]), identity_attention, "attn1",
                                                  *self.BLOCK)
        (perturbed,) = calc_cond_batch(args["model"], [args["cond"]], args["input"], args["sigma"], options)
        return guided + (args["cond_denoised"] - perturbed) * self.scale
