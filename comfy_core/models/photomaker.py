"""PhotoMaker's ID encoder (Li et al. 2024, "PhotoMaker: Customizing Realistic Human Photos
via Stacked ID Embedding") for SDXL: a CLIP ViT-L/14 image tower with a second projection,
and a fuse module that merges the face embedding into the prompt embedding of the class
word ("man", "woman", ...) that precedes the trigger word.

Keys follow the public `photomaker-v1` ID encoder: the CLIP vision keys of
`models.clip_vision`, `visual_projection_2.weight`, `fuse_module.mlp1|mlp2.{layernorm,fc1,fc2}`,
`fuse_module.layer_norm`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from comfy_core.models.clip_vision import ClipVisionModule, VisionConfig


class FuseMLP(nn.Module):
    """LayerNorm, Linear, GELU, Linear (+ the input when `residual`)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, residual: bool) -> None:
        super().__init__()
        self.layernorm = nn.LayerNorm(in_dim)
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, out_dim)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc2(F.gelu(self.fc1(self.layernorm(x))))
        return out + x if self.residual else out


class FuseModule(nn.Module):
    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.mlp1 = FuseMLP(2 * embed_dim, embed_dim, embed_dim, residual=False)
        self.mlp2 = FuseMLP(embed_dim, embed_dim, embed_dim, residual=True)
        self.layer_norm = nn.LayerNorm(embed_dim)

    def fuse(self, prompt: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """prompt (K, D) class-word embeddings, identity (K, D) face embeddings -> (K, D)."""
        x = self.mlp1(torch.cat([prompt, identity], dim=-1)) + prompt
        return self.layer_norm(self.mlp2(x))


class PhotoMakerIDEncoder(ClipVisionModule):
    """forward(id pixels (N, 3, S, S), prompt embeds (1, T, D), class-token mask (1, T))
    -> prompt embeds with the K masked tokens replaced by the fusion of their embedding
    with the first K images' identity embeddings (as the reference code does)."""

    def __init__(self, config: VisionConfig, projection_2: int, embed_dim: int) -> None:
        super().__init__(config)
        self.visual_projection_2 = nn.Linear(config.hidden_size, projection_2, bias=False)
        self.fuse_module = FuseModule(embed_dim)

    def id_embeds(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) -> (N, projection + projection_2): both projections of the pooled
        class token."""
        vm = self.vision_model
        x = vm.pre_layrnorm(vm.embeddings(pixel_values))
        for layer in vm.encoder.layers:
            x = layer(x, None)
        pooled = vm.post_layernorm(x[:, 0, :])
        return torch.cat([self.visual_projection(pooled), self.visual_projection_2(pooled)], dim=-1)

    def forward(self, pixel_values: torch.Tensor, prompt_embeds: torch.Tensor,  # type: ignore[override]
                class_tokens_mask: torch.Tensor) -> torch.Tensor:
        identity = self.id_embeds(pixel_values)  # (N, D)
        mask = class_tokens_mask.reshape(-1)
        flat = prompt_embeds.reshape(-1, prompt_embeds.shape[-1]).clone()  # (T, D)
        count = int(mask.sum())
        if count > identity.shape[0]:
            raise ValueError(f"{count} class tokens for {identity.shape[0]} identity images")
        flat[mask] = self.fuse_module.fuse(flat[mask], identity[:count].to(flat.dtype))
        return flat.view_as(prompt_embeds)
