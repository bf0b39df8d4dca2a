"""Prompt encoding around a text-encoder callable (COMPAT 9.7): all chunks (plus the
empty sequence when weights are used) in one batch, hidden states concatenated along the
tokens, pooled output from the first chunk, weights applied by interpolating each token
away from the empty prompt's hidden state: z = (z − z_empty)·w + z_empty."""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from comfy_core.text.prompt import MAX_LENGTH, EmbeddingInjection, TokenizedPrompt
from comfy_core.text.tokenizer import BOS_ID, EOS_ID

# encoder(ids [n, 77] long, injections) -> (hidden [n, 77, D], pooled [n, P] | None)
TextEncoder = Callable[
    [torch.Tensor, Sequence[EmbeddingInjection]], "tuple[torch.Tensor, torch.Tensor | None]"
]


def empty_ids(pad_token: int, length: int = MAX_LENGTH) -> list[int]:
    """[BOS, EOS, pad, ...]: the reference point of prompt weighting."""
    return [BOS_ID, EOS_ID] + [pad_token] * (length - 2)


def encode_prompt(prompt: TokenizedPrompt, encoder: TextEncoder) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(cond [1, 77·k, D], pooled [1, P] | None) for a tokenized prompt."""
    weights = torch.tensor(prompt.weights, dtype=torch.float32)  # [k, 77]
    has_weights = bool((weights != 1.0).any())
    rows = [list(r) for r in prompt.ids]
    if has_weights:
        rows.append(empty_ids(prompt.pad_token, len(rows[0])))
    hidden, pooled = encoder(torch.tensor(rows, dtype=torch.long), prompt.injections)
    k = len(prompt.ids)
    z = hidden[:k].float()  # [k, 77, D]
    if has_weights:
        z_empty = hidden[-1:].float()  # [1, 77, D]
        w = weights.to(z.device)[..., None]  # [k, 77, 1]
        z = torch.where(w != 1.0, (z - z_empty) * w + z_empty, z)
    first_pooled = None if pooled is None else pooled[0:1].float()
    return z.reshape(1, -1, z.shape[-1]), first_pooled


def concat_sdxl(l_cond: torch.Tensor, g_cond: torch.Tensor) -> torch.Tensor:
    """SDXL cond: clip_l [1,T,768] and clip_g [1,T',1280] side by side on the feature axis,
    cut to the shorter token length -> [1, min(T,T'), 2048]."""
    cut = min(l_cond.shape[1], g_cond.shape[1])
    return torch.cat([l_cond[:, :cut], g_cond[:, :cut]], dim=-1)
