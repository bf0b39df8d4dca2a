"""The CLIP value: the family's text encoders behind a patcher, with ComfyUI's `comfy.sd.CLIP`
interface (COMPAT-PLUGINS 3.7), because plugins tokenize, splice token lists and encode
through it, and our CLIPTextEncode nodes do the same.

Tokens are ComfyUI's layout: `{"l" | "g" | "h": [chunk, ...]}`, one key per encoder
(clip_l, clip_g, clip_h), each chunk 77 `(token, weight)` pairs (with `word_id` when asked),
a token being an int or a textual-inversion vector. The module (`cond_stage_model`) keeps
ComfyUI's state-dict layout, `clip_l.transformer.text_model....`, so weight patches and
key patches address it as plugins do.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from comfy_core.models import clip_encode
from comfy_core.models.clip import TextEncoder
from comfy_core.models.family import ModelFamily, TextEncoderSpec
from comfy_core.models.patcher import ModelPatcher
from comfy_core.text.prompt import TokenizedPrompt, prompt_from_chunks, prompt_to_chunks
from comfy_core.text.tokenizer import ClipTokenizer


class EncoderSlot(nn.Module):
    """Holds one text model as `transformer` (ComfyUI's key layout) and encodes ComfyUI
    token chunks with it (`encode_token_weights`, as packs with their own prompt weighting
    call it), under the stage's clip options."""

    def __init__(self, transformer: TextEncoder, spec: TextEncoderSpec | None = None,
                 options: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.transformer = transformer
        self.spec = spec
        self.options = {} if options is None else options  # shared with the stage

    def encode_token_weights(self, token_weight_pairs: list) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(cond [1, 77·k, D], pooled [1, P]) of this encoder's chunks, at the stage's
        `layer` option (the family's default without one) on its `execution_device` (the
        weights' device without one); load the CLIP first (`clip.load_model()`)."""
        if self.spec is None:
            raise ValueError("this text encoder was built without its family's settings")
        device = self.options.get("execution_device") or next(self.transformer.parameters()).device
        return clip_encode.encode_chunks(self.transformer, self.spec, token_weight_pairs,
                                         self.options.get("layer"), torch.device(device))


class ClipStage(nn.Module):
    """ComfyUI's `cond_stage_model`: one attribute per encoder role (clip_l, clip_h, clip_g),
    clip options (`layer`, `execution_device`) and `encode_token_weights` over all of them."""

    def __init__(self, encoders: Mapping[str, TextEncoder], family: ModelFamily | None = None) -> None:
        super().__init__()
        self.family = family
        self.clip_options: dict[str, Any] = {}
        for name, encoder in encoders.items():
            spec = family.encoder(name) if family is not None else None
            self.add_module(name, EncoderSlot(encoder, spec, self.clip_options))

    def encoders(self) -> dict[str, TextEncoder]:
        return {name: slot.transformer for name, slot in self.named_children()}

    def set_clip_options(self, options: Mapping[str, Any]) -> None:
        self.clip_options.update(options)

    def reset_clip_options(self) -> None:
        self.clip_options.clear()

    def encode_token_weights(self, token_weight_pairs: Mapping[str, list]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The family's (cond, pooled) of a token dict (`{"l": chunks, "g": chunks}`)."""
        results = {f"clip_{key}": getattr(self, f"clip_{key}").encode_token_weights(chunks)
                   for key, chunks in token_weight_pairs.items() if hasattr(self, f"clip_{key}")}
        return clip_encode.combine(results, self.family.name if self.family is not None else "?")


def token_key(encoder: str) -> str:
    """"clip_l" -> "l" (ComfyUI's token-dict key)."""
    return encoder.removeprefix("clip_")


class CLIP:
    """CLIP value. `CLIP(no_init=True)` is an empty shell (as in ComfyUI)."""

    def __init__(self, encoders: Mapping[str, TextEncoder] | None = None, family: ModelFamily | None = None,
                 load_device: torch.device | str | None = None, offload_device: torch.device | str | None = None,
                 *, embedding_directory: Sequence[str | os.PathLike] = (), no_init: bool = False) -> None:
        if no_init:
            return
        if encoders is None or family is None:
            raise ValueError("CLIP needs its text encoders and family (or no_init=True)")
        self.cond_stage_model = ClipStage(encoders, family)
        self.family = family
        self.patcher = ModelPatcher(self.cond_stage_model, load_device, offload_device)
        self.patcher.is_clip = True
        self.patcher.set_model_compute_dtype(torch.float32)  # fp16-stored encoders compute in fp32
        self.layer_idx: int | None = None
        self.tokenizer_options: dict[str, Any] = {}
        self.embedding_directory = [str(d) for d in embedding_directory]
        self._shared: dict[str, Any] = {}  # clones keep the reference: one tokenizer for all

    @property
    def encoders(self) -> dict[str, TextEncoder]:
        """Text encoders by role, in family order."""
        found = self.cond_stage_model.encoders()
        return {s.name: found[s.name] for s in self.family.text_encoders if s.name in found}

    @property
    def tokenizer(self) -> ClipTokenizer:
        """The CLIP BPE tokenizer, built on first use (a quarter second) and shared by clones."""
        if "tokenizer" not in self._shared:
            self._shared["tokenizer"] = ClipTokenizer()
        return self._shared["tokenizer"]

    def clone(self) -> "CLIP":
        twin = self.__class__(no_init=True)
        twin.__dict__.update(self.__dict__)
        twin.patcher = self.patcher.clone()
        twin.tokenizer_options = dict(self.tokenizer_options)
        twin.embedding_directory = list(self.embedding_directory)
        return twin

    def clip_layer(self, layer_idx: int) -> None:
        """CLIPSetLastLayer: -1 last, -2 penultimate, ... for every encoder (in place)."""
        if layer_idx >= 0:
            raise ValueError(f"clip layer index must be negative (-1 = last), got {layer_idx}")
        self.layer_idx = layer_idx

    def set_tokenizer_option(self, option_name: str, value: Any) -> None:
        self.tokenizer_options[option_name] = value

    def add_patches(self, patches: dict, strength_patch: float = 1.0, strength_model: float = 1.0) -> list:
        return self.patcher.add_patches(patches, strength_patch, strength_model)

    def get_key_patches(self) -> dict[str, list]:
        return self.patcher.get_key_patches()

    def get_sd(self) -> dict[str, torch.Tensor]:
        return self.cond_stage_model.state_dict()

    def load_sd(self, sd: Mapping[str, torch.Tensor], full_model: bool = False) -> Any:
        return self.cond_stage_model.load_state_dict(sd, strict=False)

    def load_model(self) -> ModelPatcher:
        """Load the encoders through the memory manager (on the patcher's load device)."""
        from comfy_core.memory.current import load_models

        load_models([self.patcher])
        return self.patcher

    # ---- tokens ------------------------------------------------------------------------

    def tokenize(self, text: str, return_word_ids: bool = False, **kwargs: Any) -> dict[str, list]:
        """`{"l": chunks, ...}` for every encoder; with two encoders both get the same
        number of chunks (SDXL needs that)."""
        prompts = clip_encode.tokenize(self, text, self.embedding_directory)
        if len(prompts) > 1:
            chunks = max(len(p.ids) for p in prompts.values())
            prompts = {name: clip_encode.pad_to_chunks(p, chunks) for name, p in prompts.items()}
        return {token_key(name): prompt_to_chunks(p, return_word_ids) for name, p in prompts.items()}

    def _prompts(self, tokens: Mapping[str, list]) -> dict[str, TokenizedPrompt]:
        out = {}
        for key, chunks in tokens.items():
            name = f"clip_{key}"
            if name not in self.encoders:
                raise ValueError(f"tokens for encoder {key!r}, but this CLIP has {sorted(map(token_key, self.encoders))}")
            out[name] = prompt_from_chunks(chunks, self.family.encoder(name).pad_token)
        return out

    def encode_from_tokens(self, tokens: Mapping[str, list], return_pooled: bool | str = False,
                           return_dict: bool = False) -> Any:
        """cond [1, 77·k, D] (float32, CPU); `(cond, pooled)` with `return_pooled`
        ("unprojected": before the text projection); `{"cond", "pooled_output"}` with
        `return_dict`."""
        self.load_model()
        cond, pooled = clip_encode.encode_tokens(self, self._prompts(tokens), project=return_pooled != "unprojected")
        if return_dict:
            return {"cond": cond, "pooled_output": pooled}
        return (cond, pooled) if return_pooled else cond

    def encode_from_tokens_scheduled(self, tokens: Mapping[str, list], unprojected: bool = False,
                                     add_dict: Mapping[str, Any] | None = None, show_pbar: bool = True) -> list:
        """CONDITIONING `[[cond, {"pooled_output": ..., **add_dict}]]`."""
        out = self.encode_from_tokens(tokens, return_pooled="unprojected" if unprojected else True, return_dict=True)
        cond = out.pop("cond")
        out.update(add_dict or {})
        return [[cond, out]]

    def encode(self, text: str) -> torch.Tensor:
        """The cond of `text` (ComfyUI's shortcut)."""
        return self.encode_from_tokens(self.tokenize(text))

    def encode_ids(self, name: str, token_ids: torch.Tensor, inputs_embeds: torch.Tensor | None = None,
                   project: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Encode (N, 77) chunks with encoder `name` at the family's or chosen layer
        (COMPAT 9.7); the CLIP must be loaded. Returns float32 (hidden (N, 77, D),
        pooled (N, P)) on the CPU."""
        spec = self.family.encoder(name)
        layer = self.layer_idx if self.layer_idx is not None else spec.default_layer
        with torch.no_grad():
            ids = token_ids.to(self.patcher.device)
            hidden, pooled = self.encoders[name].encode_tokens(ids, layer, spec.final_norm, inputs_embeds, project)
        return hidden.cpu(), None if pooled is None else pooled.cpu()
