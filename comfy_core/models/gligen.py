"""GLIGEN grounding (Li et al. 2023, "GLIGEN: Open-Set Grounded Text-to-Image Generation"):
phrases bound to boxes steer an SD1.x UNet through gated self-attention layers inserted
after each transformer block's self-attention.

- `PositionNet`: each box (x1, y1, x2, y2 as fractions of the latent) is Fourier-embedded
  (8 frequencies 100^(k/8), sin and cos) and concatenated with its phrase's pooled text
  embedding; an MLP makes one grounding token per box. Up to 30 boxes; empty slots take
  the learned null features.
- `GatedSelfAttention` (the file's `fuser`): x += tanh(α_attn)·attn(norm1([x, linear(objs)]))
  on the visual tokens, then x += tanh(α_dense)·ff(norm2(x)).

Keys follow the public `gligen_sd14_textbox_pruned` file: `position_net.*` and
`<input_blocks|middle_block|output_blocks>.N.1.transformer_blocks.0.fuser.*`. The fusers are
kept in the UNet's transformer order, which is how the sampling patch finds them
(`transformer_index`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import nn

from comfy_core.models.attention import CrossAttention, FeedForward

MAX_OBJECTS = 30
FOURIER_FREQS = 8
FOURIER_TEMPERATURE = 100.0
HIDDEN = 512


class GatedSelfAttention(nn.Module):
    """Attention over visual tokens plus grounding tokens, gated by tanh(α)."""

    def __init__(self, query_dim: int, context_dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.linear = nn.Linear(context_dim, query_dim)
        self.attn = CrossAttention(query_dim, query_dim, heads, dim_head)
        self.ff = FeedForward(query_dim)
        self.norm1 = nn.LayerNorm(query_dim)
        self.norm2 = nn.LayerNorm(query_dim)
        self.alpha_attn = nn.Parameter(torch.zeros(()))
        self.alpha_dense = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, objs: torch.Tensor) -> torch.Tensor:
        n_visual = x.shape[1]
        tokens = torch.cat([x, self.linear(objs)], dim=1)  # (B, N_visual + 30, C)
        x = x + torch.tanh(self.alpha_attn) * self.attn(self.norm1(tokens))[:, :n_visual]
        return x + torch.tanh(self.alpha_dense) * self.ff(self.norm2(x))


def fourier_embed(boxes: torch.Tensor, freqs: int = FOURIER_FREQS) -> torch.Tensor:
    """(B, N, 4) -> (B, N, 4·2·freqs): [sin(f_0·b), cos(f_0·b), sin(f_1·b), ...]."""
    bands = FOURIER_TEMPERATURE ** (torch.arange(freqs, device=boxes.device) / freqs)
    parts = []
    for f in bands:
        parts += [torch.sin(f * boxes), torch.cos(f * boxes)]
    return torch.cat(parts, dim=-1)


class PositionNet(nn.Module):
    """Grounding tokens (B, N, out_dim) from boxes, slot masks and phrase embeddings."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        position_dim = FOURIER_FREQS * 2 * 4
        self.linears = nn.Sequential(nn.Linear(in_dim + position_dim, HIDDEN), nn.SiLU(),
                                     nn.Linear(HIDDEN, HIDDEN), nn.SiLU(), nn.Linear(HIDDEN, out_dim))
        self.null_positive_feature = nn.Parameter(torch.zeros(in_dim))
        self.null_position_feature = nn.Parameter(torch.zeros(position_dim))

    def forward(self, boxes: torch.Tensor, masks: torch.Tensor, phrases: torch.Tensor) -> torch.Tensor:
        masks = masks[..., None]  # (B, N, 1)
        xyxy = fourier_embed(boxes)
        phrases = phrases * masks + (1 - masks) * self.null_positive_feature.to(phrases)
        xyxy = xyxy * masks + (1 - masks) * self.null_position_feature.to(xyxy)
        return self.linears(torch.cat([phrases, xyxy], dim=-1))


Box = tuple[torch.Tensor, int, int, int, int]  # (pooled phrase (1, D), h, w, y, x) in latent units


class Gligen(nn.Module):
    """The fusers in UNet transformer order plus the position net."""

    def __init__(self, fusers: Sequence[GatedSelfAttention], position_net: PositionNet, key_dim: int) -> None:
        super().__init__()
        self.module_list = nn.ModuleList(fusers)
        self.position_net = position_net
        self.key_dim = key_dim

    def grounding_tokens(self, latent_shape: Sequence[int], boxes: Sequence[Box] | None,
                         device: torch.device) -> torch.Tensor:
        """(B, 30, out_dim) for a latent batch (B, C, h, w); no boxes: all null slots."""
        batch, _, h, w = latent_shape
        boxes = list(boxes or [])[:MAX_OBJECTS]
        xyxy = torch.zeros(MAX_OBJECTS, 4)
        masks = torch.zeros(MAX_OBJECTS)
        phrases = torch.zeros(MAX_OBJECTS, self.key_dim)
        for i, (phrase, bh, bw, by, bx) in enumerate(boxes):
            xyxy[i] = torch.tensor([bx / w, by / h, (bx + bw) / w, (by + bh) / h])
            masks[i] = 1.0
            phrases[i] = phrase.reshape(-1).float().cpu()
        param = next(self.position_net.parameters())
        args = [t.unsqueeze(0).repeat(batch, *([1] * t.ndim)).to(device, param.dtype) for t in (xyxy, masks, phrases)]
        with torch.no_grad():
            return self.position_net(*args)

    def middle_patch(self, objs: torch.Tensor) -> Callable[[torch.Tensor, dict], torch.Tensor]:
        """The transformer-block `middle_patch` that runs the fuser of the calling block."""
        def patch(x: torch.Tensor, extra_options: dict[str, Any]) -> torch.Tensor:
            fuser = self.module_list[extra_options["transformer_index"]]
            return fuser(x, objs.to(x.device, x.dtype))
        return patch

    def set_position(self, latent_shape: Sequence[int], position_params: Sequence[Box],
                     device: torch.device) -> Callable[[torch.Tensor, dict], torch.Tensor]:
        """The middle patch grounding the boxes (ComfyUI's name; the sampler calls it)."""
        return self.middle_patch(self.grounding_tokens(latent_shape, position_params, device))

    def set_empty(self, latent_shape: Sequence[int], device: torch.device) -> Callable[[torch.Tensor, dict], torch.Tensor]:
        return self.middle_patch(self.grounding_tokens(latent_shape, None, device))


def heads_for(query_dim: int, key_dim: int) -> tuple[int, int]:
    """(heads, dim_head): 8 heads for SD1.x (768-wide phrases), else 64-wide heads."""
    if key_dim == 768:
        return 8, query_dim // 8
    return max(1, query_dim // 64), min(64, query_dim)

