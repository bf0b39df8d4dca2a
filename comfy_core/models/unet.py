"""The LDM "openaimodel" UNet (Rombach et al. 2022) for SD1.x, SD2.x and SDXL.

One class covers every family through `UNetConfig`. Attribute names follow the checkpoint
keys after `model.diffusion_model.` (`input_blocks.1.0.in_layers.2.weight`, ...), so LDM
checkpoints load with `load_state_dict` and no conversion table. Build it under
`torch.device("meta")` and load with `assign=True` to skip random initialisation.

The forward honours ComfyUI's `transformer_options` (COMPAT-PLUGINS 3.10): it records
`original_shape`, `block` (("input", i), ("middle", 0), ("output", i)) and
`transformer_index` there, runs the emb / input block / output block /
forward_timestep_embed patches at ComfyUI's places, adds ControlNet residuals
(`control = {"input", "middle", "output": [tensor | None, ...]}`, popped from the end) and
goes through the DIFFUSION_MODEL wrappers. Without patches it is the plain network.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import logging
from typing import Any

from comfy_core.models.attention import SpatialTransformer
from comfy_core.models.family import UNetConfig
from comfy_core.patching.extension import WrapperExecutor, WrappersMP, get_all_wrappers
from comfy_core.patching.model_options import transformer_patches

log = logging.getLogger(__name__)


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

    def forward(self, x: torch.Tensor, output_shape: Any = None) -> torch.Tensor:
        if output_shape is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=tuple(output_shape[-2:]), mode="nearest")
        return self.conv(x)


def _embed_patch(layer: nn.Module, handlers: list) -> Any:
    """The forward_timestep_embed_patch handler for `layer` (first matching class), or None."""
    for layer_class, handler in handlers:
        if isinstance(layer, layer_class):
            return handler
    return None


class TimestepEmbedSequential(nn.Sequential):
    """Runs its layers, handing each the inputs it needs (time embedding, context, output
    shape, transformer options); a forward_timestep_embed_patch handler registered for a
    layer's class runs instead of that layer."""

    def forward(  # type: ignore[override]
        self,
        x: torch.Tensor,
        emb: torch.Tensor,
        context: torch.Tensor | None,
        transformer_options: dict | None = None,
        output_shape: Any = None,
    ) -> torch.Tensor:
        options = {} if transformer_options is None else transformer_options
        handlers = transformer_patches(options).get("forward_timestep_embed_patch", [])
        for layer in self:
            handler = _embed_patch(layer, handlers) if handlers else None
            if handler is not None:
                x = handler(layer, x, emb, context, options, output_shape, None, None, None)
            elif isinstance(layer, ResBlock):
                x = layer(x, emb)
            elif isinstance(layer, SpatialTransformer):
                x = layer(x, context, transformer_options=options)
                if "transformer_index" in options:
                    options["transformer_index"] += 1
            elif isinstance(layer, Upsample):
                x = layer(x, output_shape)
            else:
                x = layer(x)
        return x


def apply_control(h: torch.Tensor, control: dict | None, name: str) -> torch.Tensor:
    """Add the last ControlNet residual of `control[name]` (popping it) to h."""
    if control is None or not control.get(name):
        return h
    residual = control[name].pop()
    if residual is None:
        return h
    if not _fits(residual, h):
        log.warning("control residual of shape %s cannot be added to %s at %s; skipped",
                    tuple(residual.shape), tuple(h.shape), name)
        return h
    return h + residual.to(h)  # a batch-1 residual (a T2I-Adapter's features) adds to every row


def _fits(residual: torch.Tensor, h: torch.Tensor) -> bool:
    """Whether `residual` broadcasts onto `h` without changing its shape (as ComfyUI's `h += r`)."""
    if residual.ndim != h.ndim:
        return False
    try:
        return torch.broadcast_shapes(residual.shape, h.shape) == h.shape
    except RuntimeError:
        return False


class UNetModel(nn.Module):
    """forward(x (B,C,h,w), timesteps (B,), context (B,T,context_dim), y (B,adm) | None)."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        mc = config.model_channels
        ted = mc * 4
        self.time_embed = nn.Sequential(nn.Linear(mc, ted), nn.SiLU(), nn.Linear(ted, ted))
        if config.adm_in_channels is not None:
            self.label_emb: nn.Module = nn.Sequential(
                nn.Sequential(nn.Linear(config.adm_in_channels, ted), nn.SiLU(), nn.Linear(ted, ted))
            )
        elif config.num_classes is not None:
            self.label_emb = nn.Embedding(config.num_classes, ted)
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

    def _transformer(self, channels: int, depth: int, level: int | None = None) -> SpatialTransformer:
        """A transformer at resolution level `level` (None: the middle block, which keeps its
        self-attention)."""
        c = self.config
        heads, dim_head = c.heads_for(channels)
        no_self = level is not None and c.self_attention_disabled(level)
        return SpatialTransformer(channels, heads, dim_head, depth, c.context_dim, c.use_linear_in_transformer,
                                  no_self)

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
                    layers.append(self._transformer(ch, depth, level))
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
                    layers.append(self._transformer(ch, depth, level))
                if level and i == c.num_res_blocks[level]:
                    layers.append(Upsample(ch))
                self.output_blocks.append(TimestepEmbedSequential(*layers))

    def forward(
        self,
        x: torch.Tensor,
        timesteps: torch.Tensor,
        context: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
        control: dict | None = None,
        transformer_options: dict | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        """x [B, C, h, w] at integer timesteps [B] with cross-attention context [B, T, D]
        (and SDXL's ADM vector y [B, adm], or the class labels y [B] of a `num_classes` UNet)
        -> eps or v [B, out_C, h, w]."""
        options = {} if transformer_options is None else transformer_options
        wrappers = get_all_wrappers(WrappersMP.DIFFUSION_MODEL, options)
        if not wrappers:
            return self._forward(x, timesteps, context, y, control, options, **kwargs)
        executor = WrapperExecutor.new_class_executor(self._forward, self, wrappers)
        return executor.execute(x, timesteps, context, y, control, options, **kwargs)

    def _forward(self, x: torch.Tensor, timesteps: torch.Tensor, context: torch.Tensor | None = None,
                 y: torch.Tensor | None = None, control: dict | None = None,
                 transformer_options: dict | None = None, **kwargs: Any) -> torch.Tensor:
        options = {} if transformer_options is None else transformer_options
        options["original_shape"] = list(x.shape)
        options["transformer_index"] = 0
        patches = transformer_patches(options)
        t_emb = timestep_embedding(timesteps, self.config.model_channels).to(x.dtype)
        emb = self.time_embed(t_emb)  # (B, 4*mc)
        for p in patches.get("emb_patch", []):
            emb = p(emb, self.config.model_channels, options)
        if self.config.adm_in_channels is not None:
            if y is None:
                raise ValueError("this UNet needs the ADM vector y (SDXL size/pooled conditioning)")
            emb = emb + self.label_emb(y.to(x.dtype))
        elif self.config.num_classes is not None:
            if y is None:
                raise ValueError("this UNet needs the class label y (the x4 upscaler's noise level)")
            emb = emb + self.label_emb(y.to(emb.device).long()).to(emb.dtype)
        context = None if context is None else context.to(x.dtype)
        hs, h = [], x
        for i, block in enumerate(self.input_blocks):
            options["block"] = ("input", i)
            h = apply_control(block(h, emb, context, options), control, "input")
            for p in patches.get("input_block_patch", []):
                h = p(h, options)
            hs.append(h)
            for p in patches.get("input_block_patch_after_skip", []):
                h = p(h, options)
        options["block"] = ("middle", 0)
        h = apply_control(self.middle_block(h, emb, context, options), control, "middle")
        for i, block in enumerate(self.output_blocks):
            options["block"] = ("output", i)
            hsp = apply_control(hs.pop(), control, "output")
            for p in patches.get("output_block_patch", []):
                h, hsp = p(h, hsp, options)
            h = torch.cat([h, hsp], dim=1)
            h = block(h, emb, context, options, hs[-1].shape if hs else None)
        return self.out(h.to(x.dtype))
