"""The ControlNet network (Zhang, Rao & Agrawala 2023, "Adding Conditional Control to
Text-to-Image Diffusion Models") in the LDM "cldm" layout of the public single-file models.

A trainable copy of the UNet's encoder and middle block reads the noisy latent plus a hint
image encoded to latent resolution (`input_hint_block`, added after the first conv); a 1x1
"zero" convolution after every encoder block and after the middle block gives the residuals
the UNet adds to its skip connections and middle output. Attribute names follow the file
keys after `control_model.` (`input_blocks.1.0.in_layers.2.weight`, `zero_convs.3.0.weight`,
`input_hint_block.14.weight`, `middle_block_out.0.weight`), so files load unconverted.

Union ControlNets (xinsir's "ControlNet++ / ProMax") add a control-type embedding to the
time embedding and fuse the encoded hint with a one-token transformer over its mean plus a
learnt per-type vector, as ComfyUI 0.8.0 does (`union_fuse`); the token count is one, not
xinsir's two (hint + latent), so results match ComfyUI rather than diffusers' union model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from comfy_core.models.attention import SpatialTransformer
from comfy_core.models.family import UNetConfig
from comfy_core.models.unet import Downsample, ResBlock, TimestepEmbedSequential, timestep_embedding

# Output channels of the hint encoder's convs before the last (to model_channels); the 3rd,
# 5th and 7th have stride 2, taking the hint from pixel to latent resolution (/8).
HINT_CHANNELS = (16, 16, 32, 32, 96, 96, 256)
HINT_STRIDED = (2, 4, 6)
# Control types of union ControlNets (SetUnionControlNetType's choices besides "auto").
UNION_CONTROLNET_TYPES = {"openpose": 0, "depth": 1, "hed/pidi/scribble/ted": 2,
                          "canny/lineart/anime_lineart/mlsd": 3, "normal": 4, "segment": 5, "tile": 6, "repaint": 7}
UNION_HEADS = 8  # attention heads of the union fusion transformer (not readable from weights)
UNION_TYPE_EMBED = 256  # sinusoidal width per control type in the control-type embedding


@dataclass(frozen=True)
class ControlNetConfig:
    """The UNet config it copies, the hint's channels and, for union models, the number of
    control types and the fusion width (320 in every public union file); `family` names the
    model family it was made for (for errors when applied to another)."""

    unet: UNetConfig
    hint_channels: int = 3
    union_types: int | None = None
    union_channels: int = 320
    family: str | None = None


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class HintEncoder(nn.Sequential):
    """Pixels [B, hint, H, W] -> features [B, model_channels, H/8, W/8] (convs at the even
    indices, SiLU between them, as in the files)."""

    def __init__(self, hint_channels: int, model_channels: int) -> None:
        layers: list[nn.Module] = []
        cin = hint_channels
        for i, cout in enumerate(HINT_CHANNELS):
            layers += [_conv(cin, cout, stride=2 if i in HINT_STRIDED else 1), nn.SiLU()]
            cin = cout
        layers.append(_conv(cin, model_channels))
        super().__init__(*layers)


class UnionAttention(nn.Module):
    """Multi-head self-attention with a fused q/k/v projection (`in_proj`)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.in_proj = nn.Linear(dim, dim * 3)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C)
        b, t, c = x.shape
        q, k, v = (p.reshape(b, t, self.heads, c // self.heads).transpose(1, 2) for p in self.in_proj(x).chunk(3, -1))
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, T, C/heads)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, c))


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class UnionBlock(nn.Module):
    """Pre-norm transformer block (CLIP style, QuickGELU MLP) of the union fusion."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.attn = UnionAttention(dim, heads)
        self.ln_1 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(dim, dim * 4))
        self.mlp.add_module("gelu", QuickGELU())
        self.mlp.add_module("c_proj", nn.Linear(dim * 4, dim))
        self.ln_2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ControlTypeEmbedding(nn.Module):
    """One-hot control types -> sinusoidal features per type -> MLP to the time embedding."""

    def __init__(self, types: int, out_dim: int) -> None:
        super().__init__()
        self.types = types
        self.linear_1 = nn.Linear(UNION_TYPE_EMBED * types, out_dim)
        self.linear_2 = nn.Linear(out_dim, out_dim)

    def forward(self, control_type: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        one_hot = torch.zeros(self.types, device=device)
        one_hot[list(control_type)] = 1.0
        features = timestep_embedding(one_hot, UNION_TYPE_EMBED).to(dtype).reshape(1, -1)  # (1, types·256)
        return self.linear_2(F.silu(self.linear_1(features)))


class ControlNetModel(nn.Module):
    """forward(x [B,C,h,w], hint [B,hint,8h,8w], timesteps [B], context [B,T,D], y [B,adm] | None,
    control_type [int] | None) -> {"middle": [r], "output": [r per encoder block]}."""

    def __init__(self, config: ControlNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config.unet
        ted = c.model_channels * 4
        self.time_embed = nn.Sequential(nn.Linear(c.model_channels, ted), nn.SiLU(), nn.Linear(ted, ted))
        if c.adm_in_channels is not None:
            self.label_emb = nn.Sequential(nn.Sequential(nn.Linear(c.adm_in_channels, ted), nn.SiLU(),
                                                         nn.Linear(ted, ted)))
        self.input_hint_block = HintEncoder(config.hint_channels, c.model_channels)
        self.input_blocks = nn.ModuleList([TimestepEmbedSequential(_conv(c.in_channels, c.model_channels))])
        self.zero_convs = nn.ModuleList([self._zero_conv(c.model_channels)])
        ch = self._build_encoder(ted)
        middle: list[nn.Module] = [ResBlock(ch, ted, ch)]
        if c.transformer_depth_middle > 0:
            middle.append(self._transformer(ch, c.transformer_depth_middle))
        middle.append(ResBlock(ch, ted, ch))
        self.middle_block = TimestepEmbedSequential(*middle)
        self.middle_block_out = self._zero_conv(ch)
        if config.union_types is not None:
            width = config.union_channels
            self.task_embedding = nn.Parameter(torch.empty(config.union_types, width))
            self.transformer_layes = nn.Sequential(UnionBlock(width, UNION_HEADS))
            self.spatial_ch_projs = nn.Linear(width, width)
            self.control_add_embedding = ControlTypeEmbedding(config.union_types, ted)

    @property
    def dtype(self) -> torch.dtype:
        """Storage dtype of the weights (plugins cast hint and inputs to it)."""
        return next(self.parameters()).dtype

    @staticmethod
    def _zero_conv(channels: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(channels, channels, 1))

    def _transformer(self, channels: int, depth: int) -> SpatialTransformer:
        c = self.config.unet
        heads, dim_head = c.heads_for(channels)
        return SpatialTransformer(channels, heads, dim_head, depth, c.context_dim, c.use_linear_in_transformer)

    def _build_encoder(self, ted: int) -> int:
        """The UNet's input blocks (levels of res + transformer blocks, a downsample between
        levels), each followed by a zero conv; returns the deepest channel count."""
        c = self.config.unet
        ch, depths = c.model_channels, iter(c.transformer_depth)
        for level, mult in enumerate(c.channel_mult):
            for _ in range(c.num_res_blocks[level]):
                layers: list[nn.Module] = [ResBlock(ch, ted, mult * c.model_channels)]
                ch = mult * c.model_channels
                depth = next(depths)
                if depth > 0:
                    layers.append(self._transformer(ch, depth))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                self.zero_convs.append(self._zero_conv(ch))
            if level != len(c.channel_mult) - 1:
                self.input_blocks.append(TimestepEmbedSequential(Downsample(ch)))
                self.zero_convs.append(self._zero_conv(ch))
        return ch

    @property
    def is_union(self) -> bool:
        return self.config.union_types is not None

    def union_fuse(self, hint: torch.Tensor, control_type: Sequence[int], emb: torch.Tensor,
                   context: torch.Tensor) -> torch.Tensor:
        """Encoded hint plus a per-channel offset from the fusion transformer, which reads
        the hint's spatial mean plus the learnt vector of its control type (first type only)."""
        encoded = self.input_hint_block(hint)  # [B, mc, h, w]
        token = encoded.mean(dim=(2, 3)) + self.task_embedding[control_type[0]].to(encoded)  # [B, mc]
        fused = self.transformer_layes(token.unsqueeze(1))  # [B, 1, mc]
        return encoded + self.spatial_ch_projs(fused[:, 0])[:, :, None, None]

    def forward(self, x: torch.Tensor, hint: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor,
                y: torch.Tensor | None = None, control_type: Sequence[int] | None = None,
                **_: object) -> dict[str, list[torch.Tensor]]:
        c = self.config.unet
        emb = self.time_embed(timestep_embedding(timesteps, c.model_channels).to(x.dtype))  # [B, 4·mc]
        control_type = list(control_type or [])
        if self.is_union:
            emb = emb + self.control_add_embedding(control_type, emb.dtype, emb.device)
        guided = self.union_fuse(hint, control_type, emb, context) if self.is_union and control_type \
            else self.input_hint_block(hint)
        if c.adm_in_channels is not None:
            if y is None:
                raise ValueError("this ControlNet needs the ADM vector y (SDXL size/pooled conditioning)")
            emb = emb + self.label_emb(y.to(x.dtype))
        outputs, h = [], x
        for block, zero_conv in zip(self.input_blocks, self.zero_convs):
            h = block(h, emb, context)
            if guided is not None:
                h = h + guided
                guided = None
            outputs.append(zero_conv(h))
        h = self.middle_block(h, emb, context)
        return {"middle": [self.middle_block_out(h)], "output": outputs}
