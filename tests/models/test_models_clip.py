"""TextEncoder against transformers' CLIP text models loaded from the same weights."""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from comfy_core.models.clip import EOS_TOKEN, ClipConfig, TextEncoder

TINY = ClipConfig(hidden_size=32, intermediate_size=64, num_layers=3, num_heads=2)


def _tokens(pad: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    ids = torch.full((2, 77), pad)
    ids[:, 0] = 49406
    ids[0, 1:6] = torch.randint(0, 49000, (5,), generator=g)
    ids[0, 6] = EOS_TOKEN
    ids[1, 1:31] = torch.randint(0, 49000, (30,), generator=g)
    ids[1, 31] = EOS_TOKEN
    return ids


def _reference(cfg: ClipConfig, sd: dict) -> torch.nn.Module:
    hf_cfg = CLIPTextConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads, hidden_act=cfg.hidden_act,
        projection_dim=cfg.projection_dim or cfg.hidden_size, eos_token_id=EOS_TOKEN, bos_token_id=49406,
    )
    ref = (CLIPTextModelWithProjection if cfg.projection_dim else CLIPTextModel)(hf_cfg).eval()
    if cfg.projection_dim is None and not hasattr(ref, "text_model"):
        sd = {k.removeprefix("text_model."): v for k, v in sd.items()}
    ref.load_state_dict(sd, strict=True)
    return ref


@pytest.mark.parametrize("projection,pad", [(None, EOS_TOKEN), (24, 0)], ids=["clip_l", "clip_g"])
def test_text_encoder_matches_transformers(projection: int | None, pad: int) -> None:
    torch.manual_seed(0)
    cfg = ClipConfig(**{**TINY.__dict__, "projection_dim": projection, "hidden_act": "gelu" if projection else "quick_gelu"})
    enc = TextEncoder(cfg).eval()
    ref = _reference(cfg, enc.state_dict())
    ids = _tokens(pad)
    with torch.no_grad():
        out = ref(input_ids=ids, output_hidden_states=True)
        last, pooled = enc.encode_tokens(ids)
        pen, _ = enc.encode_tokens(ids, layer_idx=-2, final_norm=False)
        pen_norm, _ = enc.encode_tokens(ids, layer_idx=1, final_norm=True)
    torch.testing.assert_close(last, out.last_hidden_state, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(pen, out.hidden_states[-2], rtol=1e-5, atol=1e-5)
    final_norm = (ref.text_model if projection else getattr(ref, "text_model", ref)).final_layer_norm
    with torch.no_grad():
        torch.testing.assert_close(pen_norm, final_norm(out.hidden_states[-2]), rtol=1e-5, atol=1e-5)
    want_pooled = out.text_embeds if projection else out.pooler_output
    torch.testing.assert_close(pooled, want_pooled, rtol=1e-5, atol=1e-5)


def test_inputs_embeds_replace_token_lookup() -> None:
    torch.manual_seed(0)
    enc = TextEncoder(TINY).eval()
    ids = _tokens(EOS_TOKEN)
    with torch.no_grad():
        embeds = enc.text_model.embeddings.token_embedding(ids)
        a = enc.encode_tokens(ids)
        b = enc.encode_tokens(ids, inputs_embeds=embeds)
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])


def test_layer_index_out_of_range_is_refused() -> None:
    enc = TextEncoder(TINY).eval()
    with pytest.raises(ValueError, match="layer index"):
        enc.encode_tokens(_tokens(EOS_TOKEN), layer_idx=-4)
