"""TAESD, the tiny autoencoder for Stable Diffusion latents (Ollin Boer Bohan, 2023): its
decoder turns a latent into an image in one cheap pass, which is what makes per-step
previews affordable; with its encoder it also serves as a fast, approximate VAE
(VAELoader's "taesd" / "taesdxl"). SD1.x/SD2.x use `taesd_*`, SDXL `taesdxl_*`; both work on
the 4-channel latents the UNet samples (already multiplied by the VAE scale factor).

The module tree follows the public file layout, a flat `nn.Sequential` whose indices are
the key prefixes ("1.weight", "3.conv.0.weight", ...), so weights load without renaming:

    0 clamp (tanh(x / 3) * 3)   1 conv C->64   2 relu
    3-5 blocks, 6 upsample x2, 7 conv (no bias)       (three times: 3-7, 8-12, 13-17)
    18 block   19 conv 64->3

A block is conv-relu-conv-relu-conv plus a skip (identity here: 64 -> 64), then relu.
The decoder's output is an image in about 0..1. The encoder (image in 0..1 -> latent):

    0 conv 3->64   1 block   then three times: stride-2 conv (no bias), 3 blocks
    14 conv 64->C
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

WIDTH = 64  # channels of every hidden layer in the public models
UPSAMPLE_STAGES = 3  # three x2 upsamplings: latents are 1/8 of the image


class Clamp(nn.Module):
    """Soft clamp of the input latent to about +-3."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """Residual block: relu(conv-relu-conv-relu-conv(x) + skip(x))."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(conv(n_in, n_out), nn.ReLU(), conv(n_out, n_out), nn.ReLU(),
                                  conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.conv(x) + self.skip(x))


def conv(n_in: int, n_out: int, **kwargs: Any) -> nn.Conv2d:
    """The 3x3, padding-1 convolution every TAESD layer but the skips is (kwargs: `bias`,
    `stride`, ...)."""
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class TAESDDecoder(nn.Sequential):
    """Latent `[B, C, h, w]` -> image `[B, 3, 8h, 8w]` (about 0..1)."""

    def __init__(self, latent_channels: int = 4) -> None:
        layers: list[nn.Module] = [Clamp(), conv(latent_channels, WIDTH), nn.ReLU()]
        for _ in range(UPSAMPLE_STAGES):
            layers += [Block(WIDTH, WIDTH), Block(WIDTH, WIDTH), Block(WIDTH, WIDTH),
                       nn.Upsample(scale_factor=2), conv(WIDTH, WIDTH, bias=False)]
        layers += [Block(WIDTH, WIDTH), conv(WIDTH, 3)]
        super().__init__(*layers)
        self.latent_channels = latent_channels


class TAESDEncoder(nn.Sequential):
    """Image `[B, 3, 8h, 8w]` in 0..1 -> latent `[B, C, h, w]` (scaled like the UNet's)."""

    def __init__(self, latent_channels: int = 4) -> None:
        layers: list[nn.Module] = [conv(3, WIDTH), Block(WIDTH, WIDTH)]
        for _ in range(UPSAMPLE_STAGES):
            layers += [conv(WIDTH, WIDTH, bias=False, stride=2), Block(WIDTH, WIDTH),
                       Block(WIDTH, WIDTH), Block(WIDTH, WIDTH)]
        layers.append(conv(WIDTH, latent_channels))
        super().__init__(*layers)


@dataclass(frozen=True)
class TAESDConfig:
    """What a VAE handle reads of its model: 8 pixels per latent, C latent channels."""

    embed_dim: int = 4
    downscale: int = 2 ** UPSAMPLE_STAGES


class TAESDAutoencoder(nn.Module):
    """Both halves behind the KL autoencoder's interface (images in -1..1, raw latents), so
    a VAE handle runs it like any VAE: the latents are divided by the family's scale factor
    after encoding and multiplied by it before decoding."""

    def __init__(self, latent_channels: int = 4, scale_factor: float = 0.18215) -> None:
        super().__init__()
        self.taesd_encoder = TAESDEncoder(latent_channels)
        self.taesd_decoder = TAESDDecoder(latent_channels)
        self.config = TAESDConfig(embed_dim=latent_channels)
        self.scale_factor = scale_factor

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.taesd_encoder(x * 0.5 + 0.5) / self.scale_factor

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.taesd_decoder(z * self.scale_factor).sub(0.5).mul(2)


def preview_pixels(decoder: TAESDDecoder, latent: torch.Tensor) -> torch.Tensor:
    """First latent of a batch `[B, C, h, w]` -> image `[8h, 8w, 3]` clamped to 0..1. The
    decoder moves to the latent's device (where sampling runs) on first use."""
    if next(decoder.parameters()).device != latent.device:
        decoder.to(latent.device)
    with torch.no_grad():
        image = decoder(latent[:1].float())[0]  # [3, H, W]
    return image.clamp(0, 1).movedim(0, -1)
