"""The SD 2.x x4 upscaler single-file checkpoint: the generator's layout, detection from the
weights (7-channel UNet with a 1000-label noise-level embedding), its VAE (4x), OpenCLIP-H
text encoder, latent format, v-prediction and β schedule; a class-label UNet of another
shape is refused by name."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.loading.detect import DetectionError, detect_family
from comfy_core.loading.safetensors_io import CheckpointError, load_state_dict, save_state_dict
from comfy_core.models.base_model import ModelType
from comfy_core.models.family import SD_X4_UPSCALER
from comfy_core.models.latent_formats import SD_X4
from comfy_core.models.unet import UNetModel
from comfy_core.tools.make_checkpoint import main


@pytest.fixture(scope="module")
def x4_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("x4") / "x4-upscaler-ema.safetensors"
    main(["--family", "sd_x4_upscaler", "--out", str(path), "--seed", "2"])
    return path


def test_generator_writes_the_public_layout(x4_file: Path) -> None:
    with safe_open(str(x4_file), "pt") as f:
        keys = set(f.keys())
        assert f.get_slice("model.diffusion_model.input_blocks.0.0.weight").get_shape()[:2] == [32, 7]
        assert f.get_slice("model.diffusion_model.label_emb.weight").get_shape() == [1000, 128]
    assert "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight" in keys
    assert "first_stage_model.encoder.down.1.downsample.conv.weight" in keys
    assert "first_stage_model.encoder.down.2.downsample.conv.weight" not in keys  # 3 levels: 4x
    assert "low_scale_model.sqrt_alphas_cumprod" in keys
    assert not any(k.startswith("model.diffusion_model.label_emb.0.") for k in keys)


def test_checkpoint_loads_as_the_x4_upscaler(x4_file: Path) -> None:
    ckpt = load_checkpoint(x4_file)
    family, base = ckpt.family, ckpt.model.model
    assert family.name == "sd_x4_upscaler" and family.prediction == "v" and family.low_res_concat
    assert type(base).__name__ == "SD_X4Upscaler" and base.model_type is ModelType.V_PREDICTION
    assert family.unet.in_channels == 7 and family.unet.num_classes == 1000
    assert family.unet.disable_self_attentions == (True, True, True, False)
    assert isinstance(base.latent_format, SD_X4) and base.latent_format.scale_factor == 0.08333
    assert base.model_config.sampling_settings["linear_start"] == 0.0001
    assert base.model_config.sampling_settings["linear_end"] == 0.02
    assert base.model_config.unet_config["num_classes"] == 1000
    assert sorted(ckpt.clip.encoders) == ["clip_h"] and family.encoder("clip_h").default_layer == -2
    assert ckpt.vae.downscale_ratio == 4 and ckpt.vae.upscale_ratio == 4
    image = ckpt.vae.decode(torch.randn(1, 4, 5, 6))
    assert image.shape == (1, 20, 24, 3)
    unet = base.diffusion_model
    first = unet.input_blocks[3][1].transformer_blocks[0]  # level 1: cross-attention only
    last = unet.input_blocks[7][1].transformer_blocks[0]  # level 3: self-attention
    assert first.disable_self_attn and first.attn1.to_k.in_features == family.unet.context_dim
    assert not last.disable_self_attn and last.attn1.to_k.in_features == last.attn1.to_q.in_features


def test_full_size_config_detected_from_shapes() -> None:
    with torch.device("meta"):
        state = UNetModel(SD_X4_UPSCALER.unet).state_dict()
    assert detect_family(state).unet == SD_X4_UPSCALER.unet
    assert state["label_emb.weight"].shape == (1000, 1024)


def test_class_label_unet_of_another_shape_is_refused(x4_file: Path, tmp_path: Path) -> None:
    state = load_state_dict(x4_file)
    key = "model.diffusion_model.input_blocks.0.0.weight"
    state[key] = state[key][:, :4].contiguous()  # a 4-channel UNet with a label embedding
    path = tmp_path / "odd.safetensors"
    save_state_dict(state, path)
    with pytest.raises(CheckpointError, match=r"odd\.safetensors.*x4 upscaler \(7 inputs"):
        load_checkpoint(path)
    with pytest.raises(DetectionError, match="label_emb"):
        cfg = dataclasses.replace(SD_X4_UPSCALER.unet, in_channels=4)
        with torch.device("meta"):
            detect_family(UNetModel(cfg).state_dict())
