"""/object_info entries of the model nodes against COMPAT 6-7 and 7.1."""

from __future__ import annotations

import json

import pytest
from nodes_models_helpers import models_app

import nodes
from comfy_core.registry.registry import NodeRegistry

__all__ = ["models_app"]
SEED = ["INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True}]
STRENGTH = ["FLOAT", {"default": 1.0, "min": -100.0, "max": 100.0, "step": 0.01}]
TEXT = ["STRING", {"multiline": True, "dynamicPrompts": True}]
# ComfyUI's 44 sampler names in its order (COMPAT 7.1).
COMFY_SAMPLERS = (
    "euler euler_cfg_pp euler_ancestral euler_ancestral_cfg_pp heun heunpp2 exp_heun_2_x0 exp_heun_2_x0_sde "
    "dpm_2 dpm_2_ancestral lms dpm_fast dpm_adaptive dpmpp_2s_ancestral dpmpp_2s_ancestral_cfg_pp dpmpp_sde "
    "dpmpp_sde_gpu dpmpp_2m dpmpp_2m_cfg_pp dpmpp_2m_sde dpmpp_2m_sde_gpu dpmpp_2m_sde_heun "
    "dpmpp_2m_sde_heun_gpu dpmpp_3m_sde dpmpp_3m_sde_gpu ddpm lcm ipndm ipndm_v deis res_multistep "
    "res_multistep_cfg_pp res_multistep_ancestral res_multistep_ancestral_cfg_pp gradient_estimation "
    "gradient_estimation_cfg_pp er_sde seeds_2 seeds_3 sa_solver sa_solver_pece ddim uni_pc uni_pc_bh2").split()
SCHEDULERS = ["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
              "linear_quadratic", "kl_optimal"]

# name -> (display_name, category, python_module, outputs, deprecated)
TABLE = {
    "CheckpointLoaderSimple": ("Load Checkpoint", "loaders", "nodes", ["MODEL", "CLIP", "VAE"], False),
    "CheckpointLoader": ("Load Checkpoint With Config (DEPRECATED)", "advanced/loaders", "nodes",
                         ["MODEL", "CLIP", "VAE"], True),
    "VAELoader": ("Load VAE", "loaders", "nodes", ["VAE"], False),
    "UNETLoader": ("Load Diffusion Model", "advanced/loaders", "nodes", ["MODEL"], False),
    "CLIPLoader": ("Load CLIP", "advanced/loaders", "nodes", ["CLIP"], False),
    "DualCLIPLoader": ("DualCLIPLoader", "advanced/loaders", "nodes", ["CLIP"], False),
    "LoraLoader": ("Load LoRA", "loaders", "nodes", ["MODEL", "CLIP"], False),
    "LoraLoaderModelOnly": ("LoraLoaderModelOnly", "loaders", "nodes", ["MODEL"], False),
    "CLIPTextEncode": ("CLIP Text Encode (Prompt)", "conditioning", "nodes", ["CONDITIONING"], False),
    "CLIPTextEncodeSDXL": (None, "advanced/conditioning", "comfy_extras.nodes_clip_sdxl",
                           ["CONDITIONING"], False),
    "CLIPTextEncodeSDXLRefiner": (None, "advanced/conditioning",
                                  "comfy_extras.nodes_clip_sdxl", ["CONDITIONING"], False),
    "KSampler": ("KSampler", "sampling", "nodes", ["LATENT"], False),
    "KSamplerAdvanced": ("KSampler (Advanced)", "sampling", "nodes", ["LATENT"], False),
}


@pytest.fixture(scope="module")
def info(models_app):
    registry = NodeRegistry()
    for module, (classes, titles) in nodes.mappings_by_python_module().items():
        registry.register_mappings(classes, titles, module)
    return _without_tooltips(json.loads(json.dumps(registry.object_info())))


def _without_tooltips(info: dict) -> dict:
    """Tooltips are editor help in our own words, not part of the ComfyUI contract checked here."""
    for entry in info.values():
        for section in entry["input"].values():
            for name, spec in section.items():
                if len(spec) > 1 and isinstance(spec[1], dict):
                    options = {k: v for k, v in spec[1].items() if k != "tooltip"}
                    section[name] = [spec[0], options] if options else [spec[0]]
    return info


@pytest.mark.parametrize("name", sorted(TABLE))
def test_entry_header(info, name):
    display, category, module, outputs, deprecated = TABLE[name]
    entry = info[name]
    assert (entry["display_name"], entry["category"], entry["python_module"]) == (display, category, module)
    assert entry["output"] == outputs and entry["output_node"] is False
    assert entry.get("deprecated", False) is deprecated


def test_loader_inputs(info):
    req = {name: info[name]["input"]["required"] for name in TABLE}
    assert req["CheckpointLoaderSimple"]["ckpt_name"] == [["sd15_tiny.safetensors", "sd21v_tiny.safetensors",
                                                           "sdxl_tiny.safetensors"]]
    assert info["CheckpointLoader"]["input_order"]["required"] == ["config_name", "ckpt_name"]
    assert req["UNETLoader"]["weight_dtype"] == [["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]]
    assert req["CLIPLoader"]["type"][0][:3] == ["stable_diffusion", "stable_cascade", "sd3"]
    assert len(req["CLIPLoader"]["type"][0]) == 18 and req["CLIPLoader"]["type"][0][-1] == "ovis"
    assert info["CLIPLoader"]["input"]["optional"]["device"][0] == ["default", "cpu"]
    assert req["DualCLIPLoader"]["type"][0][0] == "sdxl" and len(req["DualCLIPLoader"]["type"][0]) == 11
    assert req["VAELoader"]["vae_name"] == [["pixel_space"]]
    assert req["LoraLoader"]["strength_model"] == STRENGTH == req["LoraLoader"]["strength_clip"]
    assert info["LoraLoader"]["input_order"]["required"] == ["model", "clip", "lora_name", "strength_model",
                                                            "strength_clip"]
    assert info["LoraLoaderModelOnly"]["input_order"]["required"] == ["model", "lora_name", "strength_model"]


def test_text_encode_inputs(info):
    assert info["CLIPTextEncode"]["input"]["required"] == {"text": TEXT, "clip": ["CLIP"]}
    sdxl = info["CLIPTextEncodeSDXL"]
    assert sdxl["input_order"]["required"] == ["clip", "width", "height", "crop_w", "crop_h", "target_width",
                                               "target_height", "text_g", "text_l"]
    assert sdxl["input"]["required"]["width"] == ["INT", {"default": 1024, "min": 0, "max": 16384}]
    assert sdxl["input"]["required"]["crop_w"] == ["INT", {"default": 0, "min": 0, "max": 16384}]
    refiner = info["CLIPTextEncodeSDXLRefiner"]["input"]["required"]
    assert refiner["ascore"] == ["FLOAT", {"default": 6.0, "min": 0.0, "max": 1000.0, "step": 0.01}]
    assert info["CLIPTextEncodeSDXLRefiner"]["input_order"]["required"] == ["ascore", "width", "height",
                                                                            "text", "clip"]


def test_ksampler_inputs(info):
    req = info["KSampler"]["input"]["required"]
    assert info["KSampler"]["input_order"]["required"] == [
        "model", "seed", "steps", "cfg", "sampler_name", "scheduler", "positive", "negative",
        "latent_image", "denoise"]
    assert req["seed"] == SEED and req["steps"] == ["INT", {"default": 20, "min": 1, "max": 10000}]
    assert req["cfg"] == ["FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01}]
    assert req["denoise"] == ["FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}]
    samplers = req["sampler_name"][0]
    assert samplers == COMFY_SAMPLERS
    assert req["scheduler"] == [SCHEDULERS]
    adv = info["KSamplerAdvanced"]
    assert adv["input_order"]["required"] == [
        "model", "add_noise", "noise_seed", "steps", "cfg", "sampler_name", "scheduler", "positive",
        "negative", "latent_image", "start_at_step", "end_at_step", "return_with_leftover_noise"]
    areq = adv["input"]["required"]
    assert areq["add_noise"] == [["enable", "disable"]] and areq["noise_seed"] == SEED
    assert areq["start_at_step"] == ["INT", {"default": 0, "min": 0, "max": 10000}]
    assert areq["end_at_step"] == ["INT", {"default": 10000, "min": 0, "max": 10000}]
    assert areq["return_with_leftover_noise"] == [["disable", "enable"]]
