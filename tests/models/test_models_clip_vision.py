"""CLIP vision encoder against transformers' CLIPVisionModelWithProjection on the same
weights, both file layouts, and ComfyUI's preprocessing rules."""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from comfy_core.loading.clip_vision import (ClipVisionError, clip_vision_module, load_clip_vision_state,
                                            vision_config)
from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.models.clip_vision import CLIP_MEAN, CLIP_STD, clip_preprocess
from comfy_core.tools.make_clip_vision import random_vision_state, vision_layout, write_clip_vision


def _reference(state: dict) -> CLIPVisionModelWithProjection:
    cfg = vision_config(state, "test")
    ref = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads, image_size=cfg.image_size, patch_size=cfg.patch_size,
        projection_dim=cfg.projection_dim, hidden_act=cfg.hidden_act)).eval()
    ref.load_state_dict(state, strict=False)
    return ref


@pytest.mark.parametrize("layout", ["hf", "openclip"])
def test_encoder_matches_transformers(tmp_path, layout: str) -> None:
    path = write_clip_vision("vit-h", tmp_path / f"cv_{layout}.safetensors", layout=layout, seed=3)
    state, name = load_clip_vision_state(path)
    assert name == path.name
    ours = clip_vision_module(state, name)
    ref = _reference(random_vision_state(vision_layout("vit-h"), seed=3))
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        last, penultimate, embeds, projected = ours(pixel_values=pixels, intermediate_output=-2)
        want = ref(pixel_values=pixels, output_hidden_states=True)
    torch.testing.assert_close(last, want.last_hidden_state, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(penultimate, want.hidden_states[-2], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(embeds, want.image_embeds, rtol=1e-5, atol=1e-5)
    assert projected is None


def _shapes(layers: int, width: int, positions: int = 257, patch: int = 14, proj: int = 768) -> dict:
    meta = {"device": "meta"}
    state = {"vision_model.embeddings.patch_embedding.weight": torch.empty(width, 3, patch, patch, **meta),
             "vision_model.embeddings.position_embedding.weight": torch.empty(positions, width, **meta),
             "visual_projection.weight": torch.empty(proj, width, **meta)}
    for i in range(layers):
        state[f"vision_model.encoder.layers.{i}.mlp.fc1.weight"] = torch.empty(4 * width, width, **meta)
    return state


def test_real_shapes_get_their_heads_activation_and_resolution() -> None:
    vit_l = vision_config(_shapes(24, 1024), "l")
    assert (vit_l.num_heads, vit_l.hidden_act, vit_l.image_size) == (16, "quick_gelu", 224)
    vit_l_336 = vision_config(_shapes(24, 1024, positions=577), "l336")
    assert vit_l_336.image_size == 336
    vit_h = vision_config(_shapes(32, 1280, proj=1024), "h")
    assert (vit_h.num_heads, vit_h.hidden_act, vit_h.projection_dim) == (16, "gelu", 1024)
    vit_g = vision_config(_shapes(48, 1664, proj=1280), "g")
    assert (vit_g.num_heads, vit_g.hidden_act) == (16, "gelu")


def test_wrong_family_files_are_named(tmp_path) -> None:
    lora = tmp_path / "a_lora.safetensors"
    save_state_dict({"lora_unet_x.lora_up.weight": torch.zeros(4, 2), "lora_unet_x.lora_down.weight": torch.zeros(2, 4)},
                    lora)
    state, name = load_clip_vision_state(lora)
    with pytest.raises(ClipVisionError, match=r"a_lora\.safetensors: expected a CLIP vision encoder .* a LoRA"):
        clip_vision_module(state, name)
    siglip = _shapes(27, 1152, positions=729)
    with pytest.raises(ClipVisionError, match="SigLIP"):
        vision_config(siglip, "sigclip_vision_384.safetensors")


def test_preprocess_at_size_is_rounding_and_normalisation() -> None:
    image = torch.rand(1, 224, 224, 4, generator=torch.Generator().manual_seed(1))
    out = clip_preprocess(image)
    mean, std = torch.tensor(CLIP_MEAN).view(3, 1, 1), torch.tensor(CLIP_STD).view(3, 1, 1)
    want = ((image[0, ..., :3].movedim(-1, 0) * 255).round() / 255 - mean) / std
    torch.testing.assert_close(out[0], want)


def test_preprocess_centre_crop_or_squash() -> None:
    # left third red, middle third green, right third blue, 672x224
    image = torch.zeros(1, 224, 672, 3)
    for c in range(3):
        image[:, :, 224 * c:224 * (c + 1), c] = 1.0
    cropped = clip_preprocess(image, crop=True)
    squashed = clip_preprocess(image, crop=False)
    assert cropped.shape == squashed.shape == (1, 3, 224, 224)
    red, green = (1 - CLIP_MEAN[0]) / CLIP_STD[0], (1 - CLIP_MEAN[1]) / CLIP_STD[1]
    assert torch.allclose(cropped[0, 1, :, 10:-10], torch.tensor(green))  # the middle third only
    assert torch.allclose(squashed[0, 0, :, :60], torch.tensor(red))  # all three thirds survive
