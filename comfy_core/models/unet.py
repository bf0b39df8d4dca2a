"""The LDM "openaimodel" UNet (Rombach et al. 2022) for SD1.x, SD2.x and SDXL.

One class covers every family through `UNetConfig`. Attribute names follow the checkpoint
keys after `model.diffusion_model.` (`input_blocks.1.0.in_layers.2.weight`, ...), so LDM
checkpoints load with `load_state_dict` and no conversion table. Build it under
`torch.device("meta")` and load with `assign=True` to skip random initialisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from comfy_core.models.attention import SpatialTransformer
from comfy_core.models.family import UNetConfig


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding [cos | sin] of (B,) timesteps -> (B, dim), float32
    (Vaswani et al. 2017, as used by DDPM/LDM)."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    )
    args = timesteps[:, None].float() * freqs[None]  # (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the time embedding added in between."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(
            nn.GroupNorm(32, channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1)
        )
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels))
        self.out_layers = nn.Sequential(
            nn.GroupNorm(32, out_channels),
            nn.SiLU(),
            nn.Dropout(0.0),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        if out_channels == channels:
            self.skip_connection: nn.Module = nn.Identity()
        else:
            self.skip_connection = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        h = h + self.emb_layers(emb)[:, :, None, None]  # (B, C, 1, 1) broadcast
        return self.skip_connection(x) + self.out_layers(h)


class Downsample(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Nearest 2x (or to the skip connection's size for odd shapes), then a 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        return self.conv(x)


class TimestepEmbedSequential(nn.Sequential):
    """Runs its layers, handing each the inputs it needs (time embedding, context, size)."""

    def forward(  # type: ignore[override]
        self,
        x: torch.Tensor,
        emb: torch.Tensor,
        context: torch.Tensor,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, SpatialTransformer):
                x = layer(x, context)
            elif isinstance(layer, Upsample):
                x = layer(x, size)
            else:
                x = layer(x)
        return x


class UNetModel(nn.Module):
    """forward(x (B,C,h,w), timesteps (B,), context (B,T,context_dim), y (B,adm) | None)."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        mc = config.model_channels
        ted = mc * 4
        self.time_embed = nn.Sequential(nn.Linear(mc, ted), nn.SiLU(), nn.Linear(ted, ted))
        if config.adm_in_channels is not None:
            self.label_emb = nn.Sequential(
                nn.Sequential(nn.Linear(config.adm_in_channels, ted), nn.SiLU(), nn.Linear(ted, ted))
            )
        self.input_blocks = nn.ModuleList(
            [TimestepEmbedSequential(nn.Conv2d(config.in_channels, mc, 3, padding=1))]
        )
        skip_channels = self._build_input(ted)
        ch = mc * config.channel_mult[-1]
        middle: list[nn.Module] = [ResBlock(ch, ted, ch)]
        if config.transformer_depth_middle > 0:
            middle.append(self._transformer(ch, config.transformer_depth_middle))
        middle.append(ResBlock(ch, ted, ch))
        self.middle_block = TimestepEmbedSequential(*middle)
        self.output_blocks = nn.ModuleList()
        self._build_output(ted, skip_channels)
        self.out = nn.Sequential(nn.GroupNorm(32, mc), nn.SiLU(), nn.Conv2d(mc, config.out_channels, 3, padding=1))

    def _transformer(self, channels: int, depth: int) -> SpatialTransformer:
        c = self.config
        heads, dim_head = c.heads_for(channels)
        return SpatialTransformer(channels, heads, dim_head, depth, c.context_dim, c.use_linear_in_transformer)

    def _build_input(self, ted: int) -> list[int]:
        """Levels of res (+ transformer) blocks with a downsample between levels; returns the
        channel count of every input block, consumed in reverse by the output blocks."""
        c = self.config
        ch, skips, depths = c.model_channels, [c.model_channels], iter(c.transformer_depth)
        for level, mult in enumerate(c.channel_mult):
            for _ in range(c.num_res_blocks[level]):
                layers: list[nn.Module] = [ResBlock(ch, ted, mult * c.model_channels)]
                ch = mult * c.model_channels
                depth = next(depths)
                if depth > 0:
                    layers.append(self._transformer(ch, depth))
                self.input_blocks.append(TimestepEmbedSequential(*layers))
                skips.append(ch)
            if level != len(c.channel_mult) - 1:
                self.input_blocks.append(TimestepEmbedSequential(Downsample(ch)))
                skips.append(ch)
        return skips

    def _build_output(self, ted: int, skips: list[int]) -> None:
        c = self.config
        ch, depths = c.model_channels * c.channel_mult[-1], iter(c.transformer_depth_output)
        for level in reversed(range(len(c.channel_mult))):
            out_ch = c.model_channels * c.channel_mult[level]
            for i in range(c.num_res_blocks[level] + 1):
                layers: list[nn.Module] = [ResBlock(ch + skips.pop(), ted, out_ch)]
                ch = out_ch
                depth = next(depths)
                if depth > 0:
                    layers.append(self._transformer(ch, depth))
                if level and i == c.num_res_blocks[level]:
                    layers.append(Upsample(ch))
                self.output_blocks.append(TimestepEmbedSequential(*layers))

    def forward(
        self,
        x: torch.Tensor,
        timesteps: torch.Tensor,
        context: torch.Tensor,
        y: torch.Tensor | None = None,
    ) -> torch.Tensor:
        t_emb = timestep_embedding(timesteps, self.config.model_channels).to(x.dtype)
        emb = self.time_embed(t_emb)  # (B, 4*mc)
        if self.config.adm_in_channels is not None:
            if y is None:
                raise ValueError("this UNet needs the ADM vector y (SDXL size/pooled conditioning)")
            emb = emb + self.label_emb(y.to(x.dtype))
        context = context.to(x.dtype)
        hs, h = [], x
        for block in self.input_blocks:
            h = block(h, emb, context)
            hs.append(h)
        h = self.middle_block(h, emb, context)
        for block in self.output_blocks:
            h = torch.cat([h, hs.pop()], dim=1)
            size = tuple(hs[-1].shape[-2:]) if hs else None
            h = block(h, emb, context, size)
        return self.out(h)
