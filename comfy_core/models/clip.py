"""CLIP text encoders (Radford et al. 2021) over `transformers`' CLIP text model.

One `TextEncoder` serves OpenAI CLIP-L (SD1, SDXL) and OpenCLIP ViT-H/G (SD2, SDXL): its
state dict uses the Hugging Face layout (`text_model.*`, `text_projection.weight`);
`loading.keymaps` converts OpenCLIP checkpoints into it. The encoder runs layer by layer so
any hidden layer can be returned (CLIPSetLastLayer) with a causal mask only (COMPAT 9.7).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
from torch import nn

EOS_TOKEN = 49407
BOS_TOKEN = 49406


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


def _hf_model(c: ClipConfig) -> nn.Module:
    """transformers' CLIP text model for `c`. transformers is imported here, not at module
    level: it takes seconds to import, and the server should answer before it is needed."""
    from transformers import CLIPTextConfig, CLIPTextModel

    hf = CLIPTextConfig(
        vocab_size=c.vocab_size,
        hidden_size=c.hidden_size,
        intermediate_size=c.intermediate_size,
        num_hidden_layers=c.num_layers,
        num_attention_heads=c.num_heads,
        max_position_embeddings=c.max_positions,
        hidden_act=c.hidden_act,
        projection_dim=c.projection_dim or c.hidden_size,
        layer_norm_eps=1e-5,
        bos_token_id=BOS_TOKEN if c.vocab_size > BOS_TOKEN else None,
        eos_token_id=EOS_TOKEN if c.vocab_size > EOS_TOKEN else None,
    )
    hf._attn_implementation = "sdpa"
    return CLIPTextModel(hf)


class TextEncoder(nn.Module):
    """encode_tokens(ids (N, 77)) -> (hidden (N, 77, hidden), pooled (N, proj) | None)."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        self.config = config
        hf = _hf_model(config)
        # transformers 4.x nests the transformer under `.text_model`; 5.x is the transformer.
        self.text_model = getattr(hf, "text_model", hf)
        if config.projection_dim is not None:
            self.text_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        layer_args = inspect.signature(self.text_model.encoder.layers[0].forward).parameters
        self._legacy_layers = "causal_attention_mask" in layer_args

    def init_buffers(self) -> None:
        """Recreate the non-persistent position ids (left on the meta device by a meta build)."""
        n = self.config.max_positions
        emb = self.text_model.embeddings
        emb.position_ids = torch.arange(n, device=emb.position_embedding.weight.device).expand(1, -1)

    def _run_layer(self, layer: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = layer(x, None, mask) if self._legacy_layers else layer(x, mask)
        return out[0] if isinstance(out, tuple) else out

    def encode_tokens(
        self,
        token_ids: torch.Tensor,
        layer_idx: int | None = None,
        final_norm: bool = True,
        inputs_embeds: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Hidden state of layer `layer_idx` (-1 last, -2 penultimate, k >= 0 the output of
        layer k; None = last), optionally through the final LayerNorm, and the pooled
        output at the first EOS of the final normed layer, projected when the model has a
        projection. `inputs_embeds` (N, 77, hidden) replaces the token lookup (textual
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
            x = self._run_layer(layer, x, mask)
            if i == k:
                hidden = x
        norm = self.text_model.final_layer_norm
        last = norm(x)
        hidden = norm(hidden) if final_norm else hidden
        eos = (token_ids == EOS_TOKEN).int().argmax(dim=-1)  # (N,) first EOS
        pooled = last[torch.arange(last.shape[0], device=device), eos]
        if hasattr(self, "text_projection"):
            pooled = self.text_projection(pooled)
        return hidden.float(), pooled.float()
