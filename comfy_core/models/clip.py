"""CLIP text encoders (Radford et al. 2021): the text transformer of OpenAI CLIP-L (SD1,
SDXL) and OpenCLIP ViT-H/G (SD2, SDXL).

Module and parameter names follow the Hugging Face layout (`text_model.*`,
`text_projection.weight`) that single-file checkpoints use for CLIP-L; `loading.keymaps`
converts OpenCLIP checkpoints into it, and LoRA keys map onto it. Our own module, not
`transformers`', because importing transformers takes seconds and would sit between a cold
process and its first image; the tests check both give the same numbers. The encoder runs
layer by layer so any hidden layer can be returned (CLIPSetLastLayer), with a causal mask
only (COMPAT 9.7).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

EOS_TOKEN = 49407


@dataclass(frozen=True)
class ClipConfig:
    """Shape of one text encoder; defaults are OpenAI CLIP ViT-L/14 (SD1 clip_l)."""

    vocab_size: int = 49408
    hidden_size: int = 768
    intermediate_size: int = 3072
    num_layers: int = 12
    num_heads: int = 12
    max_positions: int = 77
    hidden_act: str = "quick_gelu"
    projection_dim: int | None = None


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    """OpenAI CLIP's sigmoid approximation of GELU."""
    return x * torch.sigmoid(1.702 * x)


ACTIVATIONS = {"quick_gelu": quick_gelu, "gelu": F.gelu}


class Embeddings(nn.Module):
    """Token + learned absolute position embeddings."""

    def __init__(self, c: ClipConfig) -> None:
        super().__init__()
        # N(0, 1) as nn.Embedding's own init, drawn with randn: under a meta-device build,
        # Tensor.normal_ runs a Python reference that imports torch._dynamo (a second or two).
        self.token_embedding = nn.Embedding(c.vocab_size, c.hidden_size, _weight=torch.randn(c.vocab_size, c.hidden_size))
        self.position_embedding = nn.Embedding(c.max_positions, c.hidden_size,
                                               _weight=torch.randn(c.max_positions, c.hidden_size))

    def forward(self, input_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        x = self.token_embedding(input_ids) if inputs_embeds is None else inputs_embeds  # (N, T, D)
        t = x.shape[1]
        if t > self.position_embedding.num_embeddings:
            raise ValueError(f"{t} tokens, the text encoder takes at most {self.position_embedding.num_embeddings}")
        positions = torch.arange(t, device=x.device)[None]  # (1, T)
        return x + self.position_embedding(positions)


class SelfAttention(nn.Module):
    """Multi-head self-attention through scaled_dot_product_attention."""

    def __init__(self, c: ClipConfig) -> None:
        super().__init__()
        self.heads = c.num_heads
        # k, v, q: transformers' parameter order, which fixes the demo trainer's float sums.
        self.k_proj = nn.Linear(c.hidden_size, c.hidden_size)
        self.v_proj = nn.Linear(c.hidden_size, c.hidden_size)
        self.q_proj = nn.Linear(c.hidden_size, c.hidden_size)
        self.out_proj = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = (p(x).view(n, t, self.heads, -1).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=q.shape[-1] ** -0.5)  # (N, H, T, D/H)
        return self.out_proj(out.transpose(1, 2).reshape(n, t, d))


class MLP(nn.Module):
    def __init__(self, c: ClipConfig) -> None:
        super().__init__()
        self.act = ACTIVATIONS[c.hidden_act]
        self.fc1 = nn.Linear(c.hidden_size, c.intermediate_size)
        self.fc2 = nn.Linear(c.intermediate_size, c.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, c: ClipConfig) -> None:
        super().__init__()
        self.self_attn = SelfAttention(c)
        self.layer_norm1 = nn.LayerNorm(c.hidden_size, eps=1e-5)
        self.mlp = MLP(c)
        self.layer_norm2 = nn.LayerNorm(c.hidden_size, eps=1e-5)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    def __init__(self, c: ClipConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(c) for _ in range(c.num_layers))


class TextTransformer(nn.Module):
    def __init__(self, c: ClipConfig) -> None:
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(c.hidden_size, eps=1e-5)


class TextEncoder(nn.Module):
    """encode_tokens(ids (N, 77)) -> (hidden (N, 77, hidden), pooled (N, proj) | None)."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        if config.hidden_act not in ACTIVATIONS:
            raise ValueError(f"unknown CLIP activation {config.hidden_act!r}; known: {sorted(ACTIVATIONS)}")
        self.config = config
        self.text_model = TextTransformer(config)
        if config.projection_dim is not None:
            self.text_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)

    def encode_tokens(
        self,
        token_ids: torch.Tensor,
        layer_idx: int | None = None,
        final_norm: bool = True,
        inputs_embeds: torch.Tensor | None = None,
        project: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Hidden state of layer `layer_idx` (-1 last, -2 penultimate, k >= 0 the output of
        layer k; None = last), optionally through the final LayerNorm, and the pooled
        output at the first EOS of the final normed layer, projected when the model has a
        projection (and `project`). `inputs_embeds` (N, 77, hidden) replaces the token lookup (textual
        inversion); `token_ids` still locate EOS. Runs on `token_ids`' device: the weights'
        own device is no guide when layers are streamed. Returns float32 tensors."""
        device = token_ids.device
        layers = self.text_model.encoder.layers
        k = len(layers) - 1 if layer_idx is None else layer_idx
        k = k + len(layers) if k < 0 else k
        if not 0 <= k < len(layers):
            raise ValueError(f"layer index {layer_idx} out of range for {len(layers)} layers")
        if inputs_embeds is not None:
            x = self.text_model.embeddings(inputs_embeds=inputs_embeds.to(device))
        else:
            x = self.text_model.embeddings(input_ids=token_ids)  # (N, T, hidden)
        t = x.shape[1]
        mask = torch.full((t, t), torch.finfo(x.dtype).min, device=device, dtype=x.dtype).triu(1)
        mask = mask[None, None]  # (1, 1, T, T) additive causal mask
        hidden = x
        for i, layer in enumerate(layers):
            x = layer(x, mask)
            if i == k:
                hidden = x
        norm = self.text_model.final_layer_norm
        last = norm(x)
        hidden = norm(hidden) if final_norm else hidden
        eos = (token_ids == EOS_TOKEN).int().argmax(dim=-1)  # (N,) first EOS
        pooled = last[torch.arange(last.shape[0], device=device), eos]
        if project and hasattr(self, "text_projection"):
            pooled = self.text_projection(pooled)
        return hidden.float(), pooled.float()
