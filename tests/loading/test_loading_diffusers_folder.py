"""Diffusers-format folders: the UNet key conversion inverts diffusers' own LDM converter,
and a tiny folder written by diffusers and transformers loads through DiffusersLoader into
models that compute what diffusers' and transformers' models compute on the same weights."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
from transformers import CLIPTextConfig, CLIPTextModel

from comfy_core import runtime
from comfy_core.files import FolderPaths
from comfy_core.loading.diffusers_folder import diffusers_unet_to_ldm
from comfy_core.loading.safetensors_io import CheckpointError
from comfy_core.models.family import UNetConfig
from comfy_core.models.unet import UNetModel
from comfy_core.settings import Settings
from nodes.loaders import DiffusersLoader

SD1 = UNetConfig(model_channels=32, channel_mult=(1, 2), num_res_blocks=(1, 1), transformer_depth=(1, 1),
                 transformer_depth_output=(1, 1, 1, 1), transformer_depth_middle=1, context_dim=32, num_heads=8)
SDXL = UNetConfig(model_channels=32, channel_mult=(1, 2, 2), num_res_blocks=(2, 2, 2),
                  transformer_depth=(0, 0, 1, 1, 2, 2), transformer_depth_output=(0, 0, 0, 1, 1, 1, 2, 2, 2),
                  transformer_depth_middle=2, context_dim=64, num_heads=-1, num_head_channels=16,
                  use_linear_in_transformer=True, adm_in_channels=96)
UNET_SD1 = dict(in_channels=4, out_channels=4, block_out_channels=[32, 64], layers_per_block=1,
                down_block_types=["CrossAttnDownBlock2D"] * 2, up_block_types=["CrossAttnUpBlock2D"] * 2,
                cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32)
UNET_SDXL = dict(in_channels=4, out_channels=4, block_out_channels=[32, 64, 64], layers_per_block=2,
                 down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
                 cross_attention_dim=64, attention_head_dim=[2, 4, 4], use_linear_projection=True,
                 transformer_layers_per_block=[1, 1, 2], norm_num_groups=32, addition_embed_type="text_time",
                 addition_time_embed_dim=8, projection_class_embeddings_input_dim=96)


@pytest.mark.parametrize("cfg,dcfg", [(SD1, UNET_SD1), (SDXL, UNET_SDXL)], ids=["sd1", "sdxl"])
def test_unet_conversion_inverts_diffusers_converter(cfg, dcfg):
    ldm = UNetModel(cfg).state_dict()
    diffusers_state = convert_ldm_unet_checkpoint({"model.diffusion_model." + k: v for k, v in ldm.items()}, dcfg)
    back = diffusers_unet_to_ldm(diffusers_state)
    assert set(back) == set(ldm)
    assert all(torch.equal(back[k], ldm[k]) for k in ldm)
    with pytest.raises(CheckpointError, match="no place in an SD UNet"):
        diffusers_unet_to_ldm({**diffusers_state, "controlnet_cond_embedding.conv_in.weight": torch.zeros(1)})


def _write_folder(root, name="tiny-sd"):
    """A tiny SD1-style diffusers folder: UNet, VAE and CLIP text encoder with random weights."""
    torch.manual_seed(0)
    folder = root / "models" / "diffusers" / name
    unet = UNet2DConditionModel(**UNET_SD1).eval()
    vae = AutoencoderKL(block_out_channels=[32, 32, 32, 32], layers_per_block=1, latent_channels=4,
                        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        norm_num_groups=32).eval()
    text = CLIPTextModel(CLIPTextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=1, vocab_size=49408, max_position_embeddings=77,
                                        hidden_act="quick_gelu")).eval()
    with torch.no_grad():  # non-trivial norms and biases
        for module in (unet, vae, text):
            for p in module.parameters():
                p.add_(torch.randn_like(p) * 0.05)
    unet.save_pretrained(folder / "unet")
    vae.save_pretrained(folder / "vae")
    text.save_pretrained(folder / "text_encoder")
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"]}))
    return unet, vae, text


@pytest.fixture(scope="module")
def folder_app(tmp_path_factory):
    base = tmp_path_factory.mktemp("diffusers")
    refs = _write_folder(base)
    ctx = runtime.AppContext(folders=FolderPaths.build(base), settings=Settings(base_directory=base))
    with runtime.use_app(ctx):
        yield base, refs


def test_diffusers_loader_models_match_diffusers_and_transformers(folder_app):
    base, (unet_ref, vae_ref, text_ref) = folder_app
    assert DiffusersLoader.INPUT_TYPES()["required"]["model_path"] == (["tiny-sd"],)
    model, clip, vae = DiffusersLoader().load_checkpoint("tiny-sd")
    assert model.model.family.name == "sd15" and not model.model.family.inpaint
    x, t, ctx = torch.randn(1, 4, 8, 8), torch.tensor([500.0]), torch.randn(1, 5, 32)
    z = torch.randn(1, 4, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(model.model.diffusion_model(x, t, ctx, None), unet_ref(x, t, ctx).sample,
                                   rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(vae.first_stage_model.decode(z), vae_ref.decode(z).sample, rtol=1e-4, atol=1e-4)
        ids = torch.tensor([[49406, 320, 1125, 49407]])
        hidden, _ = clip.encoders["clip_l"].encode_tokens(ids)
        torch.testing.assert_close(hidden, text_ref(ids).last_hidden_state, rtol=1e-4, atol=1e-4)


def test_bad_folders_are_named(folder_app):
    base, _ = folder_app
    with pytest.raises(CheckpointError, match="not found"):
        DiffusersLoader().load_checkpoint("../outside")
    broken = base / "models" / "diffusers" / "pickled"
    (broken / "unet").mkdir(parents=True)
    (broken / "model_index.json").write_text("{}")
    (broken / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04")
    with pytest.raises(CheckpointError, match="pickled/unet: only pickle"):
        DiffusersLoader().load_checkpoint("pickled")
