"""CLIP text encode nodes against transformers' CLIP text models on the same tiny weights
(COMPAT 9.7): SD1 last layer + norm, SD2 penultimate + norm, SDXL l+g penultimate without
norm side by side with pooled clip_g, CLIPSetLastLayer, embeddings, SDXL size options."""

from __future__ import annotations

import pytest
import torch
from nodes_models_helpers import encode, load, models_app, run
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from comfy_core.loading import keymaps as km
from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.text.embeddings import EmbeddingError
from comfy_core.text.tokenizer import BOS_ID, EOS_ID, ClipTokenizer

__all__ = ["models_app"]
PROMPT = "a photo of a cat"
PREFIXES = {"sd15": {"clip_l": km.CLIP_L_PREFIX}, "sd21v": {"clip_h": km.CLIP_H_PREFIX},
            "sdxl": {"clip_l": km.SDXL_CLIP_L_PREFIX, "clip_g": km.SDXL_CLIP_G_PREFIX}}


def _reference(models_app, family: str, name: str):
    """transformers model holding encoder `name` of the tiny `family` checkpoint."""
    path = models_app.folders.get_full_path_or_raise("checkpoints", f"{family}_tiny.safetensors")
    state = km.strip_prefix(load_state_dict(path), PREFIXES[family][name])
    open_clip = km.is_openclip(state)
    state = km.openclip_to_hf(state) if open_clip else km.clip_to_hf(state)
    width = state["text_model.embeddings.token_embedding.weight"].shape[1]
    projection = state.get("text_projection.weight")
    cfg = CLIPTextConfig(
        vocab_size=49408, hidden_size=width,
        intermediate_size=state["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0],
        num_hidden_layers=len({k.split(".")[3] for k in state if ".layers." in k}),
        num_attention_heads=max(1, width // 64), hidden_act="gelu" if open_clip else "quick_gelu",
        projection_dim=width if projection is None else projection.shape[0],
        eos_token_id=EOS_ID, bos_token_id=BOS_ID)
    ref = (CLIPTextModel if projection is None else CLIPTextModelWithProjection)(cfg).eval()
    if projection is None and not hasattr(ref, "text_model"):
        state = {k.removeprefix("text_model."): v for k, v in state.items()}
    ref.load_state_dict(state, strict=True)
    return ref


def _ids(pad: int, text: str = PROMPT) -> torch.Tensor:
    tokens = [BOS_ID] + ClipTokenizer().encode(text) + [EOS_ID]
    return torch.tensor([tokens + [pad] * (77 - len(tokens))])


def _final_norm(ref):
    return getattr(ref, "text_model", ref).final_layer_norm


def test_sd15_matches_transformers_last_layer(models_app):
    _, clip, _ = load("sd15")
    cond, opts = encode(clip, PROMPT)[0]
    with torch.no_grad():
        out = _reference(models_app, "sd15", "clip_l")(input_ids=_ids(EOS_ID))
    torch.testing.assert_close(cond, out.last_hidden_state, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(opts["pooled_output"], out.pooler_output, rtol=1e-5, atol=1e-5)


def test_sd2_uses_penultimate_layer_with_norm_and_pad_zero(models_app):
    _, clip, _ = load("sd21v")
    cond, _ = encode(clip, PROMPT)[0]
    ref = _reference(models_app, "sd21v", "clip_h")
    with torch.no_grad():
        out = ref(input_ids=_ids(0), output_hidden_states=True)
        want = _final_norm(ref)(out.hidden_states[-2])
    torch.testing.assert_close(cond, want, rtol=1e-5, atol=1e-5)


def test_sdxl_concatenates_penultimate_layers_and_pools_clip_g(models_app):
    _, clip, _ = load("sdxl")
    cond, opts = encode(clip, PROMPT)[0]
    with torch.no_grad():
        out_l = _reference(models_app, "sdxl", "clip_l")(input_ids=_ids(EOS_ID), output_hidden_states=True)
        out_g = _reference(models_app, "sdxl", "clip_g")(input_ids=_ids(0), output_hidden_states=True)
    want = torch.cat([out_l.hidden_states[-2], out_g.hidden_states[-2]], dim=-1)
    torch.testing.assert_close(cond, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(opts["pooled_output"], out_g.text_embeds, rtol=1e-5, atol=1e-5)


def test_clip_set_last_layer_minus_two_on_sd15(models_app):
    _, clip, _ = load("sd15")
    (clip2,) = run("CLIPSetLastLayer", clip=clip, stop_at_clip_layer=-2)
    cond, _ = encode(clip2, PROMPT)[0]
    ref = _reference(models_app, "sd15", "clip_l")
    with torch.no_grad():
        out = ref(input_ids=_ids(EOS_ID), output_hidden_states=True)
        want = _final_norm(ref)(out.hidden_states[-2])
    torch.testing.assert_close(cond, want, rtol=1e-5, atol=1e-5)
    default, _ = encode(clip, PROMPT)[0]
    assert not torch.allclose(default, cond)


def test_long_prompt_and_weights(models_app):
    _, clip, _ = load("sd15")
    long_cond, _ = encode(clip, "cat " * 100)[0]
    assert long_cond.shape == (1, 154, 32)
    plain, _ = encode(clip, "a cat")[0]
    weighted, _ = encode(clip, "a (cat:1.5)")[0]
    assert weighted.shape == plain.shape and not torch.allclose(weighted, plain)


def test_embedding_from_the_embeddings_folder(models_app):
    _, clip, _ = load("sd15")
    vector = torch.randn(1, 32, generator=torch.Generator().manual_seed(0))
    folder = models_app.folders.get_folder_paths("embeddings")[0]
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"emb_params": vector}, str(folder / "tiny_emb.safetensors"))
    cond, _ = encode(clip, "embedding:tiny_emb")[0]
    ref = _reference(models_app, "sd15", "clip_l")
    slot = 1000  # a token whose embedding row we overwrite with the vector
    with torch.no_grad():
        getattr(ref, "text_model", ref).embeddings.token_embedding.weight[slot] = vector[0]
        ids = torch.tensor([[BOS_ID, slot, EOS_ID] + [EOS_ID] * 74])
        want = ref(input_ids=ids).last_hidden_state
    torch.testing.assert_close(cond, want, rtol=1e-5, atol=1e-5)
    torch.save({"string_to_param": {"*": vector}}, folder / "tiny_old.pt")
    with pytest.raises(EmbeddingError, match=r"tiny_old\.pt is a pickle file.*Convert"):
        encode(clip, "a embedding:tiny_old")


def test_sdxl_encode_nodes_set_size_options(models_app):
    _, clip, _ = load("sdxl")
    (cond,) = run("CLIPTextEncodeSDXL", clip=clip, width=1024, height=768, crop_w=8, crop_h=16,
                  target_width=512, target_height=256, text_g="a cat " * 40, text_l="a dog")
    tensor, opts = cond[0]
    assert tensor.shape == (1, 154, 64)  # clip_l padded with an empty chunk to clip_g's two
    assert {k: opts[k] for k in ("width", "height", "crop_w", "crop_h", "target_width", "target_height")} == {
        "width": 1024, "height": 768, "crop_w": 8, "crop_h": 16, "target_width": 512, "target_height": 256}
    (refined,) = run("CLIPTextEncodeSDXLRefiner", ascore=2.5, width=512, height=512, text="a cat", clip=clip)
    assert refined[0][1]["aesthetic_score"] == 2.5 and refined[0][1]["pooled_output"].shape == (1, 32)


def test_sdxl_node_refuses_single_encoder_clip(models_app):
    _, clip, _ = load("sd15")
    with pytest.raises(ValueError, match="clip_l \\+ clip_g"):
        run("CLIPTextEncodeSDXL", clip=clip, width=1024, height=1024, crop_w=0, crop_h=0,
            target_width=1024, target_height=1024, text_g="a", text_l="b")
