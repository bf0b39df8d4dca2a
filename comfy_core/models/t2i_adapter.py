"""T2I-Adapter networks (Mou et al. 2023, "T2I-Adapter: Learning Adapters to Dig out More
Controllable Ability for Text-to-Image Diffusion Models") in TencentARC's file layout.

A small CNN turns the hint image, pixel-unshuffled to latent resolution, into one feature
map per UNet level; the UNet adds them after its encoder blocks. `Adapter` is the full
adapter (SD1: unshuffle 8, a downsample before levels 1-3; SDXL: unshuffle 16, levels 0-1 at
1/16 and 2-3 at 1/32), `AdapterLight` the light one (SD1). Sizes are read from the weights.
`forward` returns the features per level (4 tensors); `t2i_control_lists` places them where
ComfyUI's UNet picks them up.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class AdapterConfig:
    """Full adapter: `channels` per level, `blocks` res blocks per level, kernel size,
    `skip_conv` (a `skep` conv on every block, older files) or `in_conv` only where the
    width changes, `conv_down` (strided conv, else 2x2 average pooling), `xl` layout."""

    in_channels: int  # after pixel-unshuffle: hint channels x unshuffle²
    channels: tuple[int, ...] = (320, 640, 1280, 1280)
    blocks: int = 2
    kernel: int = 3
    skip_conv: bool = False
    conv_down: bool = False
    xl: bool = False

    @property
    def unshuffle(self) -> int:
        return 16 if self.xl else 8


class Downsample(nn.Module):
    """Halve the resolution: a stride-2 3x3 conv, or 2x2 average pooling (odd sizes padded)."""

    def __init__(self, channels: int, use_conv: bool) -> None:
        super().__init__()
        self.use_conv = use_conv
        if use_conv:
            self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_conv:
            return self.op(x)
        return F.avg_pool2d(x, 2, stride=2, padding=(x.shape[2] % 2, x.shape[3] % 2))


class ResnetBlock(nn.Module):
    def __init__(self, in_c: int, out_c: int, down: bool, config: AdapterConfig) -> None:
        super().__init__()
        k = config.kernel
        self.in_conv = nn.Conv2d(in_c, out_c, k, 1, k // 2) if in_c != out_c or config.skip_conv else None
        self.block1 = nn.Conv2d(out_c, out_c, 3, 1, 1)
        self.block2 = nn.Conv2d(out_c, out_c, k, 1, k // 2)
        self.skep = nn.Conv2d(in_c, out_c, k, 1, k // 2) if config.skip_conv else None
        self.down = down
        if down:
            self.down_opt = Downsample(in_c, config.conv_down)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = self.down_opt(x)
        if self.in_conv is not None:
            x = self.in_conv(x)
        h = self.block2(F.relu(self.block1(x)))
        return h + (self.skep(x) if self.skep is not None else x)


class Adapter(nn.Module):
    """The full adapter; `body` holds levels x blocks res blocks in order."""

    def __init__(self, config: AdapterConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        self.unshuffle = nn.PixelUnshuffle(config.unshuffle)
        self.conv_in = nn.Conv2d(config.in_channels, ch[0], 3, 1, 1)
        downs = (2,) if config.xl else (1, 2, 3)
        body = []
        for i in range(len(ch)):
            for j in range(config.blocks):
                first = j == 0 and i > 0
                body.append(ResnetBlock(ch[i - 1] if first else ch[i], ch[i], first and i in downs, config))
        self.body = nn.ModuleList(body)

    @property
    def input_channels(self) -> int:
        """Channels of the hint image (before pixel-unshuffle)."""
        return self.config.in_channels // self.config.unshuffle**2

    @property
    def unshuffle_amount(self) -> int:
        return self.config.unshuffle

    @property
    def xl(self) -> bool:
        return self.config.xl

    def forward(self, hint: torch.Tensor) -> list[torch.Tensor]:
        x = self.conv_in(self.unshuffle(hint))
        features = []
        for i in range(len(self.config.channels)):
            for j in range(self.config.blocks):
                x = self.body[i * self.config.blocks + j](x)
            features.append(x)
        return features


class LightBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.block2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block2(F.relu(self.block1(x))) + x


class Extractor(nn.Module):
    """(average-pool down,) 1x1 in, light res blocks at a quarter width, 1x1 out."""

    def __init__(self, in_c: int, inner: int, out_c: int, blocks: int, down: bool) -> None:
        super().__init__()
        self.in_conv = nn.Conv2d(in_c, inner, 1)
        self.body = nn.Sequential(*(LightBlock(inner) for _ in range(blocks)))
        self.out_conv = nn.Conv2d(inner, out_c, 1)
        self.down = down
        if down:
            self.down_opt = Downsample(in_c, use_conv=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = self.down_opt(x)
        return self.out_conv(self.body(self.in_conv(x)))


@dataclass(frozen=True)
class LightConfig:
    in_channels: int  # hint channels x 64
    channels: tuple[int, ...] = (320, 640, 1280, 1280)
    blocks: int = 4
    xl: bool = False
    unshuffle: int = 8


class AdapterLight(nn.Module):
    def __init__(self, config: LightConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels
        self.unshuffle = nn.PixelUnshuffle(config.unshuffle)
        self.body = nn.ModuleList(
            Extractor(config.in_channels if i == 0 else ch[i - 1], ch[i] // 4, ch[i], config.blocks, down=i > 0)
            for i in range(len(ch)))

    @property
    def input_channels(self) -> int:
        return self.config.in_channels // self.config.unshuffle**2

    @property
    def unshuffle_amount(self) -> int:
        return self.config.unshuffle

    @property
    def xl(self) -> bool:
        return self.config.xl

    def forward(self, hint: torch.Tensor) -> list[torch.Tensor]:
        x = self.unshuffle(hint)
        features = []
        for extractor in self.body:
            x = extractor(x)
            features.append(x)
        return features


def t2i_control_lists(features: list[torch.Tensor], xl: bool) -> dict[str, list[torch.Tensor | None]]:
    """Per-level features -> ComfyUI's control lists (the UNet pops from the end, one per
    input block): SD1 after input blocks 2, 5, 8 and 11 (the last res block of each level);
    SDXL after blocks 3 (level 0's downsample, at 1/16), 5 and 8, the deepest as the middle
    block's residual."""
    slots: list[torch.Tensor | None] = []
    for i, feature in enumerate(features):
        if xl:
            slots += [None] * {0: 3, 2: 2}.get(i, 1)
        else:
            slots += [None, None]
        slots.append(feature)
    slots.reverse()
    if xl:
        return {"input": slots[1:], "middle": slots[:1]}
    return {"input": slots}
