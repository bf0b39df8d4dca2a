"""Stand-ins for the model files a workflow names: the right kind per loader input and
family per file name, files the real loaders accept, and the graph readers for shared
PNG / WebP / JSON files."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from comfy_core.images.embedded import read_graphs
from comfy_core.loading.controlnet import load_controlnet
from comfy_core.loading.detect import detect_family
from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.loading.upscale_models import load_upscale_model
from comfy_core.models.control_nets import T2IAdapter
from comfy_core.tools import stand_ins


@pytest.mark.parametrize("name, family", [
    ("v1-5-pruned-emaonly.ckpt", "sd15"), ("someAnimeMix_v3.safetensors", "sd15"),
    ("v2-1_768-ema-pruned.ckpt", "sd21v"), ("v2-1_512-ema-pruned.safetensors", "sd21"),
    ("512-inpainting-ema.safetensors", "sd21_inpaint"), ("sd-v1-5-inpainting.ckpt", "sd15_inpaint"),
    ("sd_xl_base_1.0.safetensors", "sdxl"), ("sd_xl_refiner_1.0.safetensors", "sdxl_refiner"),
    ("sdxl/edit_xl.safetensors", "sdxl_ip2p"), ("sd21-unclip-h.ckpt", "sd21_unclip"),
    ("instruct-pix2pix-00-22000.safetensors", "sd15_ip2p"),
])
def test_checkpoint_family_from_the_file_name(name, family):
    assert stand_ins.checkpoint_family(name) == family


def test_plan_names_kinds_for_the_main_checkpoints_family():
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_refiner_1.0.safetensors"}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "XL/base.ckpt"}},
        "3": {"class_type": "LoraLoader", "inputs": {"lora_name": "style.safetensors", "model": ["2", 0]}},
        "4": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "t2iadapter_depth.pth"}},
        "5": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "2x_Some.pth"}},
        "6": {"class_type": "CLIPVisionLoader", "inputs": {"clip_name": "clip_vision_g.safetensors"}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat, embedding:my_style, (x:1.2)"}},
    }
    planned = stand_ins.plan(prompt)
    entries = {e.name: e for e in planned}
    assert [e.folder for e in planned][:2] == ["checkpoints", "checkpoints"]
    assert entries["XL/base.safetensors"].kind == "sdxl"
    assert entries["sd_xl_refiner_1.0.safetensors"].kind == "sdxl_refiner"
    assert {entries[n].family for n in entries} == {"sdxl"}  # add-ons follow the base, not the refiner
    assert entries["t2iadapter_depth.safetensors"].kind == "t2i_xl"
    assert entries["2x_Some.safetensors"].kind == "compact"
    assert entries["clip_vision_g.safetensors"].kind == "vit-g"
    assert stand_ins.embedding_names(prompt) == {"my_style"}
    stand_ins.substitute(prompt, planned)
    assert prompt["2"]["inputs"]["ckpt_name"] == "XL/base.safetensors"
    assert prompt["3"]["inputs"] == {"lora_name": "style.safetensors", "model": ["2", 0]}


def test_written_stand_ins_load_as_what_they_stand_in_for(tmp_path):
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "512-inpainting-ema.ckpt"}},
        "2": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "t2iadapter_canny.pth"}},
        "3": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "RealESRGAN_x2.pth"}},
        "4": {"class_type": "VAELoader", "inputs": {"vae_name": "anime.vae.pt"}},
    }
    entries = stand_ins.plan(prompt)
    written = stand_ins.write_stand_ins(entries, tmp_path)
    assert stand_ins.write_stand_ins(entries, tmp_path) == []  # existing files are kept
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        "checkpoints/512-inpainting-ema.safetensors", "controlnet/t2iadapter_canny.safetensors",
        "upscale_models/RealESRGAN_x2.safetensors", "vae/anime.vae.safetensors"}
    state = load_state_dict(tmp_path / "checkpoints" / "512-inpainting-ema.safetensors")
    unet = {k[len("model.diffusion_model."):]: v for k, v in state.items() if k.startswith("model.diffusion_model.")}
    family = detect_family(unet, state)
    assert family.unet.in_channels == 9 and family.unet.use_linear_in_transformer  # SD 2.x inpainting
    assert isinstance(load_controlnet(tmp_path / "controlnet" / "t2iadapter_canny.safetensors"), T2IAdapter)
    assert load_upscale_model(tmp_path / "upscale_models" / "RealESRGAN_x2.safetensors").scale == 2
    assert "encoder.conv_in.weight" in load_state_dict(tmp_path / "vae" / "anime.vae.safetensors")
    written = stand_ins.write_embeddings({"my_style"}, tmp_path, "sdxl")
    assert {k: tuple(v.shape) for k, v in load_state_dict(written[0]).items()} == {"clip_l": (2, 32), "clip_g": (2, 32)}


def test_diffusion_models_are_bare_unets_of_their_kind(tmp_path):
    prompt = {"1": {"class_type": "UNETLoader", "inputs": {"unet_name": "lotus-depth-d-v1-1.safetensors"}},
              "2": {"class_type": "UNETLoader", "inputs": {"unet_name": "sd_xl_base_unet.safetensors"}}}
    entries = {e.name: e for e in stand_ins.plan(prompt)}
    assert {e.folder for e in entries.values()} == {"diffusion_models"}
    assert (entries["lotus-depth-d-v1-1.safetensors"].kind, entries["sd_xl_base_unet.safetensors"].kind) == \
        ("lotus", "sdxl")
    stand_ins.write_stand_ins(entries.values(), tmp_path)
    families = {name: detect_family(load_state_dict(tmp_path / "diffusion_models" / name)).name for name in entries}
    assert families == {"lotus-depth-d-v1-1.safetensors": "lotus", "sd_xl_base_unet.safetensors": "sdxl"}
    assert sorted(p.name for p in (tmp_path / "diffusion_models").iterdir()) == sorted(entries)  # no leftovers


def test_sd1_checkpoints_beside_a_t2i_adapter_get_sd1_block_structure(tmp_path):
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.ckpt"}},
              "2": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "t2iadapter_depth_sd14v1.pth"}}}
    entries = stand_ins.plan(prompt)
    stand_ins.write_stand_ins(entries, tmp_path)
    stand_ins.substitute(prompt, entries)
    assert prompt["1"]["inputs"]["ckpt_name"] == "sd1_levels/v1-5-pruned-emaonly.safetensors"
    state = load_state_dict(tmp_path / "checkpoints" / "sd1_levels" / "v1-5-pruned-emaonly.safetensors")
    unet = {k[len("model.diffusion_model."):]: v for k, v in state.items() if k.startswith("model.diffusion_model.")}
    assert detect_family(unet).unet.num_res_blocks == (2, 2, 2, 2)


def test_sdxl_stand_ins_carry_the_markers_their_names_suggest(tmp_path):
    prompt = {str(i): {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": name}}
              for i, name in enumerate(["cosxl_edit.safetensors", "playground-v2.5-1024px.safetensors",
                                        "anime_xl_vpred.safetensors", "sd_xl_base_1.0.safetensors"])}
    entries = stand_ins.plan(prompt)
    assert [(e.kind, e.markers) for e in entries] == [("sdxl_ip2p", "edm_vpred"), ("sdxl", "playground"),
                                                     ("sdxl", "v_pred"), ("sdxl", None)]
    stand_ins.write_stand_ins(entries[:1], tmp_path)
    state = load_state_dict(tmp_path / "checkpoints" / "cosxl_edit.safetensors")
    unet = {k[len("model.diffusion_model."):]: v for k, v in state.items() if k.startswith("model.diffusion_model.")}
    family = detect_family(unet, state)  # the whole file's tensors: its markers count
    assert family.prediction == "v" and family.unet.in_channels == 8 and family.edm_schedule.sigma_max == 120


def test_unknown_family_or_folder_is_named(tmp_path):
    with pytest.raises(stand_ins.StandInError, match="no tiny generator for files in models/photomaker"):
        stand_ins.write_stand_ins([stand_ins.StandIn("photomaker", "p.pt", "p.safetensors", "photomaker", "sd15")], tmp_path)


def test_graphs_are_read_from_png_webp_and_json(tmp_path):
    workflow, prompt = {"nodes": [{"id": 1, "type": "EmptyImage"}], "links": []}, {"1": {"class_type": "X"}}
    info = PngInfo()
    info.add_text("prompt", json.dumps(prompt))
    info.add_text("workflow", json.dumps(workflow))
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png", pnginfo=info)
    exif = Image.Exif()
    exif[0x0110], exif[0x010F] = "prompt:" + json.dumps(prompt), "workflow:" + json.dumps(workflow)
    Image.new("RGB", (8, 8)).save(tmp_path / "b.webp", exif=exif)
    (tmp_path / "c.json").write_text(json.dumps(workflow))
    (tmp_path / "d.json").write_text(json.dumps({"prompt": prompt}))
    (tmp_path / "e.png").write_bytes(b"not a picture")
    assert read_graphs(tmp_path / "a.png") == (prompt, workflow)
    assert read_graphs(tmp_path / "b.webp") == (prompt, workflow)
    assert read_graphs(tmp_path / "c.json") == (None, workflow)
    assert read_graphs(tmp_path / "d.json") == (prompt, None)
    assert read_graphs(tmp_path / "e.png") == (None, None)
