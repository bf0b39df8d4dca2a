"""Prompt text -> CONDITIONING tensors for a CLIP value (COMPAT 9.7).

Each encoder of the family tokenizes the text with its own pad token and embedding width,
runs the weighted encode procedure of `comfy_core.text.encode`, and the family decides how
the encoders combine: one encoder (SD1 clip_l, SD2 clip_h, SDXL refiner clip_g) is used as
is; SDXL puts clip_l and clip_g side by side (2048 features) with the pooled vector from
clip_g. The CLIP value (`clip_value.CLIP`) calls these with its patcher loaded.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Callable, Sequence

import torch

from comfy_core.models.family import TextEncoderSpec
from comfy_core.text.embeddings import embedding_lookup
from comfy_core.text.encode import TextEncoder, concat_sdxl, empty_ids, encode_prompt
from comfy_core.text.prompt import EmbeddingInjection, TokenizedPrompt, prompt_from_chunks, tokenize_prompt

if TYPE_CHECKING:
    from comfy_core.models.clip_value import CLIP

Tokens = dict[str, TokenizedPrompt]  # encoder name ("clip_l", "clip_g", ...) -> prompt


def encoder_names(clip: "CLIP") -> list[str]:
    """The encoders in family order (clip_l before clip_g)."""
    return [spec.name for spec in clip.family.text_encoders if spec.name in clip.encoders]


def tokenize(
    clip: "CLIP", text: str, embedding_dirs: Sequence[str | os.PathLike] = (), only: str | None = None
) -> Tokens:
    """Tokenize `text` for every encoder (or just `only`), each with its pad token and
    `embedding:NAME` vectors of its width (file key = encoder name)."""
    out: Tokens = {}
    for name in encoder_names(clip):
        if only is not None and name != only:
            continue
        dim = clip.encoders[name].config.hidden_size
        lookup = embedding_lookup(embedding_dirs, name) if embedding_dirs else None
        out[name] = tokenize_prompt(text, clip.tokenizer, pad_token=clip.family.encoder(name).pad_token,
                                    embedding_lookup=lookup, embedding_dim=dim)
    return out


def pad_to_chunks(prompt: TokenizedPrompt, chunks: int) -> TokenizedPrompt:
    """Append empty chunks ([BOS, EOS, pad...]) until the prompt has `chunks` chunks; SDXL
    does this so clip_l and clip_g prompts of different lengths still line up."""
    missing = chunks - len(prompt.ids)
    if missing <= 0:
        return prompt
    width = len(prompt.ids[0])
    empty = tuple(empty_ids(prompt.pad_token, width))
    return dataclasses.replace(prompt, ids=prompt.ids + (empty,) * missing,
                               weights=prompt.weights + ((1.0,) * width,) * missing)


def _with_injections(table: torch.nn.Module, device: torch.device, call: Callable) -> TextEncoder:
    """The callable `encode_prompt` takes: ids [n, 77] (+ embedding injections) -> hidden,
    pooled, via `call(ids, inputs_embeds | None)`. Injected vectors replace the token
    embedding at their (chunk, position)."""

    def run(ids: torch.Tensor, injections: Sequence[EmbeddingInjection]) -> tuple[torch.Tensor, torch.Tensor | None]:
        embeds = None
        if injections:
            with torch.no_grad():
                embeds = table(ids.to(device)).float()  # (n, 77, hidden)
            for inj in injections:
                embeds[inj.chunk, inj.position] = inj.vector.to(embeds)
        return call(ids, embeds)

    return run


def _encoder(clip: "CLIP", name: str, project: bool) -> TextEncoder:
    table = clip.encoders[name].text_model.embeddings.token_embedding
    return _with_injections(table, clip.patcher.device, lambda ids, embeds: clip.encode_ids(name, ids, embeds, project))


def encode_chunks(transformer: torch.nn.Module, spec: TextEncoderSpec, chunks: list, layer: int | None,
                  device: torch.device, project: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One encoder's weighted encode of ComfyUI token chunks (its `encode_token_weights`):
    (cond [1, 77·k, D], pooled [1, P] | None), float32 on the CPU, at `layer` (None: the
    family's default) on `device`, where the encoder must already be."""
    layer = spec.default_layer if layer is None else layer

    def call(ids: torch.Tensor, embeds: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        with torch.no_grad():
            hidden, pooled = transformer.encode_tokens(ids.to(device), layer, spec.final_norm, embeds, project)
        return hidden.cpu(), None if pooled is None else pooled.cpu()

    table = transformer.text_model.embeddings.token_embedding
    return encode_prompt(prompt_from_chunks(chunks, spec.pad_token), _with_injections(table, device, call))


def encode_tokens(clip: "CLIP", tokens: Tokens, project: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(cond [1, T, D], pooled [1, P] | None) in float32 on the CPU; `project` False gives
    the pooled vector before the text projection."""
    results = {name: encode_prompt(prompt, _encoder(clip, name, project)) for name, prompt in tokens.items()}
    return combine(results, clip.family.name)


def combine(results: dict[str, tuple[torch.Tensor, torch.Tensor | None]],
            family: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The family's (cond, pooled) from each encoder's: SDXL's clip_l and clip_g side by
    side with clip_g's pooled vector, a single encoder as it is."""
    if set(results) == {"clip_l", "clip_g"}:
        cond = concat_sdxl(results["clip_l"][0], results["clip_g"][0])
        return cond, results["clip_g"][1]
    if len(results) != 1:
        raise ValueError(f"cannot combine text encoders {sorted(results)} for family {family!r}")
    return next(iter(results.values()))
