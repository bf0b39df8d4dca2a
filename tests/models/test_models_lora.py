"""LoRA patching: math, name maps, and exact restore when patches come and go."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
from safetensors.torch import load_file

from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.models.lora import LoraDelta, apply_lora, clip_key_map, unet_key_map
from tests.fixtures.checkpoints import make_tiny_checkpoint, make_tiny_lora
from tests.models.test_models_unet import diffusers_config


def _snapshot(value) -> dict[str, torch.Tensor]:
    """Parameters of a MODEL (or of a CLIP's patcher), by state-dict key."""
    patcher = getattr(value, "patcher", value)
    return {k: v.detach().clone() for k, v in patcher.model.named_parameters()}


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_lora_on_off_restores_bit_for_bit(family: str, tmp_path: Path) -> None:
    ckpt = load_checkpoint(make_tiny_checkpoint(family, tmp_path))
    lora = load_file(str(make_tiny_lora(tmp_path / f"{family}_tiny.safetensors", tmp_path / "l.safetensors")))
    base_unet, base_clip = _snapshot(ckpt.model), _snapshot(ckpt.clip)
    model, clip, unmatched = apply_lora(ckpt.model, ckpt.clip, lora, 0.8, 0.5)
    assert unmatched == []
    model.load("cpu")
    clip.load_model()
    patched_unet, patched_clip = _snapshot(model), _snapshot(clip)
    assert not _same(base_unet, patched_unet) and not _same(base_clip, patched_clip)
    ckpt.model.load("cpu")  # the unpatched value shares the module
    ckpt.clip.load_model()
    assert _same(base_unet, _snapshot(ckpt.model)) and _same(base_clip, _snapshot(ckpt.clip))
    model.load("cpu")
    assert _same(patched_unet, _snapshot(model))
    model.unpatch_model()
    assert _same(base_unet, _snapshot(model))


def test_patch_math_and_strength(tmp_path: Path) -> None:
    ckpt = load_checkpoint(make_tiny_checkpoint("sd15", tmp_path))
    key = "diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
    w = ckpt.model.model.get_parameter(key).detach().clone()
    up, down = torch.randn(w.shape[0], 2), torch.randn(2, w.shape[1])
    lora = {"lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.lora_up.weight": up,
            "lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.lora_down.weight": down,
            "lora_unet_input_blocks_1_1_transformer_blocks_0_attn2_to_k.alpha": torch.tensor(1.0),
            "lora_unet_not_a_layer.lora_up.weight": up}
    model, _, unmatched = apply_lora(ckpt.model, None, lora, strength_model=0.5)
    assert unmatched == ["lora_unet_not_a_layer.lora_up.weight"]
    model.load("cpu")
    torch.testing.assert_close(model.model.get_parameter(key), w + 0.5 * (1.0 / 2) * (up @ down))


def test_locon_mid_equals_composed_convolutions() -> None:
    torch.manual_seed(0)
    down, mid, up = torch.randn(3, 8, 1, 1), torch.randn(3, 3, 3, 3), torch.randn(16, 3, 1, 1)
    d = LoraDelta(up, down, alpha=3.0, mid=mid).delta(torch.zeros(16, 8, 3, 3))
    x = torch.randn(1, 8, 10, 10)
    composed = F.conv2d(F.conv2d(F.conv2d(x, down), mid, padding=1), up)
    torch.testing.assert_close(F.conv2d(x, d, padding=1), composed, rtol=1e-4, atol=1e-4)


def test_diffusers_names_follow_diffusers_conversion(tmp_path: Path) -> None:
    """Our LDM->diffusers module map agrees with diffusers' own checkpoint conversion."""
    ckpt = load_checkpoint(make_tiny_checkpoint("sd15", tmp_path))
    cfg = ckpt.family.unet
    ldm = {"model." + k: v for k, v in ckpt.model.model_state_dict("diffusion_model.").items()}
    converted = convert_ldm_unet_checkpoint(ldm, diffusers_config(cfg, (8, 8)))
    params = dict(ckpt.model.model.named_parameters())
    checked = 0
    for name, key in unet_key_map(ckpt.model).items():
        if name.startswith("unet.") and ".processor." not in name:
            assert torch.equal(converted[name[5:] + ".weight"], params[key]), name
            checked += 1
    assert checked > 50


def test_peft_and_text_encoder_names(tmp_path: Path) -> None:
    ckpt = load_checkpoint(make_tiny_checkpoint("sdxl", tmp_path))
    cmap = clip_key_map(ckpt.clip)
    assert cmap["lora_te2_text_model_encoder_layers_1_mlp_fc1"] == "clip_g.transformer.text_model.encoder.layers.1.mlp.fc1.weight"
    assert cmap["text_encoder.text_model.encoder.layers.0.self_attn.q_proj"].startswith("clip_l.")
    umap = unet_key_map(ckpt.model)
    target = umap["unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q"]
    assert target == "diffusion_model.input_blocks.3.1.transformer_blocks.0.attn1.to_q.weight"
    w = ckpt.model.model.get_parameter(target)
    lora = {"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight": torch.randn(2, w.shape[1]),
            "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight": torch.randn(w.shape[0], 2)}
    model, _, unmatched = apply_lora(ckpt.model, None, lora)
    assert unmatched == [] and len(model.patches) == 1
