"""The T2I-Adapter style model (Mou et al. 2023, "T2I-Adapter"): a small transformer that
turns a CLIP ViT-L/14 image's hidden states into extra text-conditioning tokens.

`num_tokens` learned style tokens are appended to the image's tokens, the sequence runs
through pre-norm residual attention blocks (CLIP's block: quick-GELU MLP), and the style
tokens, layer-normed and projected to the text width, are the output. Parameter names
follow the public file (`style_embedding`, `transformer_layes.N.attn.in_proj_weight`,
`ln_pre`, `ln_post`, `proj`); the attention is torch's `nn.MultiheadAttention`, whose
parameter names those are. The released model has 8 heads, which the weights cannot tell.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from comfy_core.models.clip import quick_gelu


@dataclass(frozen=True)
class StyleAdapterConfig:
    """Defaults are the released `t2iadapter_style_sd14v1` (ViT-L/14 in, SD1 text width out)."""

    width: int = 1024
    context_dim: int = 768
    num_heads: int = 8
    num_layers: int = 3
    num_tokens: int = 8


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return quick_gelu(x)


class ResidualAttentionBlock(nn.Module):
    """x + attn(ln_1(x)), then + mlp(ln_2(x)) (Radford et al. 2021's block)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, 4 * width)), ("gelu", QuickGELU()),
                                              ("c_proj", nn.Linear(4 * width, width))]))
        self.ln_2 = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class StyleAdapter(nn.Module):
    """image hidden states (N, T, width) -> style tokens (N, num_tokens, context_dim)."""

    def __init__(self, c: StyleAdapterConfig) -> None:
        super().__init__()
        self.config = c
        self.style_embedding = nn.Parameter(torch.empty(1, c.num_tokens, c.width))
        self.transformer_layes = nn.Sequential(*(ResidualAttentionBlock(c.width, c.num_heads)
                                                 for _ in range(c.num_layers)))
        self.ln_pre = nn.LayerNorm(c.width)
        self.ln_post = nn.LayerNorm(c.width)
        self.proj = nn.Parameter(torch.empty(c.width, c.context_dim))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if hidden.shape[-1] != self.config.width:
            raise ValueError(f"the style model takes {self.config.width}-wide image features (CLIP ViT-L/14), "
                             f"got {hidden.shape[-1]}: use the matching CLIP vision model")
        style = self.style_embedding.to(hidden.dtype).expand(hidden.shape[0], -1, -1)
        x = self.ln_pre(torch.cat([hidden, style], dim=1))  # (N, T + num_tokens, width)
        x = self.transformer_layes(x)
        x = self.ln_post(x[:, -self.config.num_tokens:, :])
        return x @ self.proj.to(x.dtype)  # (N, num_tokens, context_dim)


class StyleModel:
    """STYLE_MODEL: ComfyUI's `StyleModel` (the module as `model`, `get_cond`)."""

    def __init__(self, model: StyleAdapter) -> None:
        self.model = model

    def get_cond(self, clip_vision_output) -> torch.Tensor:
        """Style tokens (N, num_tokens, context_dim) of a CLIP_VISION_OUTPUT's last hidden state."""
        hidden = clip_vision_output.last_hidden_state
        with torch.no_grad():
            return self.model(hidden.to(self.model.proj.device, self.model.proj.dtype)).float()
