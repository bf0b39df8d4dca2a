"""CLIP image encoders (Radford et al. 2021): the vision transformer of OpenAI CLIP ViT-L/14
and OpenCLIP ViT-H/14 and ViT-bigG/14, with its projection to the joint embedding.

Parameter names follow transformers' `CLIPVisionModelWithProjection` (`vision_model.*`,
`visual_projection.weight`), the layout of ComfyUI's `clip_vision` files;
`loading.clip_vision` converts OpenCLIP `visual.*` files and the CLIP vision tower of unCLIP
checkpoints into it. The transformer blocks are the text encoder's (`models.clip`), run
without a mask. `forward` answers like ComfyUI's `CLIPVisionModelProjection`, which packs
call directly: `(last_hidden_state, intermediate, image_embeds, mm_projected)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from comfy_core.models.clip import ACTIVATIONS, ClipConfig, EncoderLayer

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class VisionConfig:
    """Shape of one image encoder; defaults are OpenAI CLIP ViT-L/14 at 224 px."""

    hidden_size: int = 1024
    intermediate_size: int = 4096
    num_layers: int = 24
    num_heads: int = 16
    image_size: int = 224
    patch_size: int = 14
    projection_dim: int = 768
    hidden_act: str = "quick_gelu"
    layer_norm_eps: float = 1e-5

    @property
    def num_positions(self) -> int:
        """Patch tokens plus the class token."""
        return (self.image_size // self.patch_size) ** 2 + 1

    def block_config(self) -> ClipConfig:
        """The transformer-block settings in the text encoder's terms."""
        return ClipConfig(hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
                          num_layers=self.num_layers, num_heads=self.num_heads, hidden_act=self.hidden_act)


class VisionEmbeddings(nn.Module):
    """Class token + non-overlapping patches (a strided conv), plus learned positions."""

    def __init__(self, c: VisionConfig) -> None:
        super().__init__()
        self.class_embedding = nn.Parameter(torch.empty(c.hidden_size))
        self.patch_embedding = nn.Conv2d(3, c.hidden_size, c.patch_size, stride=c.patch_size, bias=False)
        self.position_embedding = nn.Embedding(c.num_positions, c.hidden_size,
                                               _weight=torch.empty(c.num_positions, c.hidden_size))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)  # (B, P, D)
        cls = self.class_embedding.to(patches.dtype).expand(patches.shape[0], 1, -1)  # (B, 1, D)
        x = torch.cat([cls, patches], dim=1)  # (B, 1 + P, D)
        if x.shape[1] != self.position_embedding.num_embeddings:
            raise ValueError(f"{x.shape[1] - 1} image patches, the encoder was trained on "
                             f"{self.position_embedding.num_embeddings - 1} (wrong input size)")
        positions = torch.arange(x.shape[1], device=x.device)[None]  # (1, T)
        return x + self.position_embedding(positions).to(x.dtype)


class VisionEncoder(nn.Module):
    def __init__(self, c: VisionConfig) -> None:
        super().__init__()
        block = c.block_config()
        self.layers = nn.ModuleList(EncoderLayer(block) for _ in range(c.num_layers))


class VisionTransformer(nn.Module):
    """transformers' `CLIPVisionTransformer` (its `pre_layrnorm` spelling included)."""

    def __init__(self, c: VisionConfig) -> None:
        super().__init__()
        self.embeddings = VisionEmbeddings(c)
        self.pre_layrnorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.encoder = VisionEncoder(c)
        self.post_layernorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)


class ClipVisionModule(nn.Module):
    """pixel_values (B, 3, S, S), CLIP-normalised -> hidden states and image embedding."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        if config.hidden_act not in ACTIVATIONS:
            raise ValueError(f"unknown CLIP activation {config.hidden_act!r}; known: {sorted(ACTIVATIONS)}")
        self.config = config
        self.vision_model = VisionTransformer(config)
        self.visual_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)

    def forward(self, pixel_values: torch.Tensor, attention_mask: torch.Tensor | None = None,
                intermediate_output: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None,
                                                                  torch.Tensor, None]:
        """(last hidden state (B, T, D) before the post LayerNorm, the output of layer
        `intermediate_output` (negative counts from the end; None: not kept), image_embeds
        (B, projection_dim), None (no multimodal projector))."""
        vm = self.vision_model
        layers = vm.encoder.layers
        keep = intermediate_output
        if keep is not None and keep < 0:
            keep += len(layers)
        if keep is not None and not 0 <= keep < len(layers):
            raise ValueError(f"intermediate_output {intermediate_output} out of range for {len(layers)} layers")
        x = vm.pre_layrnorm(vm.embeddings(pixel_values))  # (B, T, D)
        intermediate = None
        for i, layer in enumerate(layers):
            x = layer(x, attention_mask)
            if i == keep:
                intermediate = x
        pooled = vm.post_layernorm(x[:, 0, :])  # class token, (B, D)
        return x, intermediate, self.visual_projection(pooled), None


def clip_preprocess(image: torch.Tensor, size: int = 224, mean: tuple[float, ...] = CLIP_MEAN,
                    std: tuple[float, ...] = CLIP_STD, crop: bool = True) -> torch.Tensor:
    """IMAGE (B, H, W, C) in [0, 1] -> pixel_values (B, 3, size, size), as ComfyUI prepares
    CLIP inputs: bicubic antialiased resize (shortest side to `size` then a centre crop, or
    straight to size x size without crop; skipped when already that size), rounded to 8-bit
    levels, normalised by the CLIP mean and std."""
    image = image[..., :3].movedim(-1, 1)  # (B, 3, H, W)
    h, w = image.shape[2], image.shape[3]
    if (h, w) != (size, size):
        if crop:
            scale = size / min(h, w)
            target = (round(scale * h), round(scale * w))
        else:
            target = (size, size)
        image = F.interpolate(image, size=target, mode="bicubic", antialias=True)
        top, left = (image.shape[2] - size) // 2, (image.shape[3] - size) // 2
        image = image[:, :, top:top + size, left:left + size]
    image = torch.clamp(255.0 * image, 0, 255).round() / 255.0
    m = torch.tensor(mean, device=image.device, dtype=image.dtype).view(3, 1, 1)
    s = torch.tensor(std, device=image.device, dtype=image.dtype).view(3, 1, 1)
    return (image - m) / s
