"""ControlNets through sampling on the tiny SD1.5/SDXL checkpoints: KSampler with a ControlNet
equals KSampler on a model whose UNet wrapper adds the network's residuals by hand (the
independent path: the model patch interface, the network called directly); the old apply
node equals the advanced one over the whole schedule; two chained ControlNets with start/end
percent in a workflow through the executor; a T2I-Adapter equals its features added by hand
after each level; Control-LoRA, SDXL and union values sample; the ControlNet-specific prompt
reaches only the ControlNet; a ControlNet of another family fails the prompt, file named."""

from __future__ import annotations

import dataclasses
import threading

import pytest
import torch
from nodes_models_helpers import build_models, empty_latent, encode, ksample, load, run

import nodes
from comfy_core import runtime
from comfy_core.execution import Executor, make_cache
from comfy_core.files import FolderPaths
from comfy_core.graph import validate_prompt
from comfy_core.images.resize import upscale
from comfy_core.loading.safetensors_io import save_state_dict
from comfy_core.registry import NodeRegistry
from comfy_core.settings import Settings
from comfy_core.tools.make_checkpoint import build_checkpoint, layout
from comfy_core.tools.make_controlnet import write_controlnet

FILES = {"cn_a.safetensors": ("ldm", "sd15", 5), "cn_b.safetensors": ("diffusers", "sd15", 6),
         "lora.safetensors": ("control_lora", "sd15", 7), "xl.safetensors": ("ldm", "sdxl", 8),
         "union.safetensors": ("union", "sdxl", 9), "t2i.safetensors": ("t2i", "sd15", 10)}
SD1_LEVELS = dict(channel_mult=(1, 2, 4, 4), num_res_blocks=(2, 2, 2, 2), transformer_depth=(1, 1, 1, 1, 1, 1, 0, 0),
                  transformer_depth_output=(0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1))


def write_sd1_levels(path) -> None:
    """A tiny checkpoint with SD1's real block structure (4 levels of 2 res blocks, widths
    32-128), which the tiny T2I-Adapter (widths 32-128) fits."""
    base = layout("sd15", "tiny")
    lay = dataclasses.replace(base, unet=dataclasses.replace(base.unet, **SD1_LEVELS))
    save_state_dict(build_checkpoint(lay, seed=11), path)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = build_models(tmp_path_factory.mktemp("cn_sampling"), ("sd15", "sdxl"))
    for name, (kind, family, seed) in FILES.items():
        write_controlnet(kind, family, base / "models" / "controlnet" / name, seed=seed)
    write_sd1_levels(base / "models" / "checkpoints" / "sd1_levels.safetensors")
    folders = FolderPaths.build(base)
    for d in (folders.input_dir, folders.output_dir, folders.temp_dir):
        d.mkdir(parents=True, exist_ok=True)
    with runtime.use_app(runtime.AppContext(folders=folders, settings=Settings(base_directory=base))) as ctx:
        yield ctx


@pytest.fixture(scope="module")
def sd15(app):
    model, clip, vae = load("sd15")
    return model, encode(clip, "a red square"), encode(clip, "blurry"), clip


def _image(seed: int = 0, h: int = 64, w: int = 64) -> torch.Tensor:
    return torch.rand(1, h, w, 3, generator=torch.Generator().manual_seed(seed))


def _cn(name: str):
    return run("ControlNetLoader", control_net_name=name)[0]


def _sample(model, pos, neg, seed: int = 1) -> torch.Tensor:
    return ksample(model, pos, neg, empty_latent(64), seed=seed, steps=3, cfg=5.0)["samples"]


def _by_hand(model, network, image: torch.Tensor, strength: float, start: float, end: float):
    """A model clone whose UNet wrapper adds `network`'s residuals itself while σ is inside
    [σ(start), σ(end)]: hint resized (nearest-exact, center) to the latent's pixel size,
    latent scaled by c_in, integer timestep, the call's ControlNet tokens if any, else its own."""
    clone = model.clone()
    ms = clone.get_model_object("model_sampling")
    high, low = ms.percent_to_sigma(start), ms.percent_to_sigma(end)

    def wrapper(apply_model, args):
        x, sigma, c = args["input"], args["timestep"], dict(args["c"])
        if low <= float(sigma[0]) <= high:
            hint = upscale(image.movedim(-1, 1), x.shape[3] * 8, x.shape[2] * 8, "nearest-exact", "center")
            with torch.no_grad():
                res = network(x=ms.calculate_input(sigma, x), hint=hint.to(x), timesteps=ms.timestep(sigma),
                              context=c.get("crossattn_controlnet", c["c_crossattn"]), y=c.get("y"))
            c["control"] = {key: [r * strength for r in res[key]] for key in ("output", "middle")}
        return apply_model(x, sigma, **c)

    clone.set_model_unet_function_wrapper(wrapper)
    return clone


def test_controlnet_changes_the_latent_exactly_as_residuals_added_by_hand(sd15):
    model, pos, neg, _ = sd15
    control, image = _cn("cn_a.safetensors"), _image(1)
    cpos, cneg = run("ControlNetApplyAdvanced", positive=pos, negative=neg, control_net=control, image=image,
                     strength=0.7, start_percent=0.0, end_percent=0.6)
    with_cn = _sample(model, cpos, cneg)
    by_hand = _sample(_by_hand(model, control.control_model, image, 0.7, 0.0, 0.6), pos, neg)
    torch.testing.assert_close(with_cn, by_hand, rtol=0, atol=1e-6)
    assert not torch.allclose(with_cn, _sample(model, pos, neg), atol=1e-3)


def test_old_apply_controls_the_negative_like_advanced_over_the_whole_schedule(sd15):
    model, pos, neg, _ = sd15
    control, image = _cn("cn_a.safetensors"), _image(2)
    old = run("ControlNetApply", conditioning=pos, control_net=control, image=image, strength=0.9)[0]
    apos, aneg = run("ControlNetApplyAdvanced", positive=pos, negative=neg, control_net=control, image=image,
                     strength=0.9, start_percent=0.0, end_percent=1.0)
    torch.testing.assert_close(_sample(model, old, neg), _sample(model, apos, aneg), rtol=0, atol=1e-6)


def _execute(prompt: dict):
    registry = NodeRegistry()
    for module, (classes, titles) in nodes.mappings_by_python_module().items():
        registry.register_mappings(classes, titles, module)
    checked = validate_prompt(registry, prompt)
    assert checked.ok, checked
    return Executor(registry, make_cache("classic")).run(checked.prompt, "p", {}, checked.outputs,
                                                         lambda e: None, threading.Event())


def _workflow(first: str, second: str) -> dict:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15_tiny.safetensors"}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a red square"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "blurry"}},
        "4": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0xFF2010}},
        "5": {"class_type": "Canny", "inputs": {"image": ["4", 0], "low_threshold": 0.4, "high_threshold": 0.8}},
        "6": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": first}},
        "7": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": second}},
        "8": {"class_type": "ControlNetApplyAdvanced", "inputs": {
            "positive": ["2", 0], "negative": ["3", 0], "control_net": ["6", 0], "image": ["4", 0],
            "strength": 0.8, "start_percent": 0.0, "end_percent": 0.5}},
        "9": {"class_type": "ControlNetApplyAdvanced", "inputs": {
            "positive": ["8", 0], "negative": ["8", 1], "control_net": ["7", 0], "image": ["5", 0],
            "strength": 1.2, "start_percent": 0.3, "end_percent": 1.0}},
        "10": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "11": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "seed": 3, "steps": 4, "cfg": 5.0, "sampler_name": "euler", "scheduler": "normal",
            "positive": ["9", 0], "negative": ["9", 1], "latent_image": ["10", 0], "denoise": 1.0}},
        "12": {"class_type": "VAEDecode", "inputs": {"samples": ["11", 0], "vae": ["1", 2]}},
        "13": {"class_type": "PreviewImage", "inputs": {"images": ["12", 0]}},
    }


def test_two_chained_controlnets_with_ranges_in_a_workflow(app):
    result = _execute(_workflow("cn_a.safetensors", "cn_b.safetensors"))
    assert result.status_str == "success", result.error
    assert result.outputs["13"]["images"]


def test_controlnet_of_another_family_fails_the_prompt_naming_the_file(app):
    result = _execute(_workflow("cn_a.safetensors", "xl.safetensors"))
    assert result.status_str == "error" and result.error["node_id"] == "11"
    assert "xl.safetensors was made for sdxl" in result.error["exception_message"]
    assert _execute(_workflow("cn_a.safetensors", "cn_b.safetensors")).status_str == "success"  # still working


def test_control_lora_sdxl_and_union_sample(app, sd15):
    model, pos, neg, _ = sd15
    cpos, cneg = run("ControlNetApplyAdvanced", positive=pos, negative=neg, control_net=_cn("lora.safetensors"),
                     image=_image(3), strength=1.0, start_percent=0.0, end_percent=1.0)
    out = _sample(model, cpos, cneg)
    assert torch.isfinite(out).all() and not torch.allclose(out, _sample(model, pos, neg))
    xl_model, xl_clip, _ = load("sdxl")
    xpos, xneg = encode(xl_clip, "a red square"), encode(xl_clip, "blurry")
    union = nodes.NODE_CLASS_MAPPINGS["SetUnionControlNetType"].execute(_cn("union.safetensors"), "depth")[0]
    for control in (_cn("xl.safetensors"), union):
        cpos, cneg = run("ControlNetApplyAdvanced", positive=xpos, negative=xneg, control_net=control,
                         image=_image(4), strength=1.0, start_percent=0.0, end_percent=1.0)
        assert not torch.allclose(_sample(xl_model, cpos, cneg), _sample(xl_model, xpos, xneg))


def test_controlnet_prompt_reaches_only_the_controlnet(sd15):
    """CLIPTextEncodeControlnet's tokens go to the ControlNet; the UNet keeps the entry's."""
    model, pos, neg, clip = sd15
    control, image = _cn("cn_a.safetensors"), _image(5)
    cn_text = nodes.NODE_CLASS_MAPPINGS["CLIPTextEncodeControlnet"].execute(clip, pos, "a blue circle")[0]
    assert torch.equal(cn_text[0][1]["cross_attn_controlnet"], encode(clip, "a blue circle")[0][0])
    assert torch.equal(cn_text[0][0], pos[0][0])
    apos, aneg = run("ControlNetApplyAdvanced", positive=cn_text, negative=neg, control_net=control, image=image,
                     strength=1.0, start_percent=0.0, end_percent=1.0)
    by_hand = _by_hand(model, control.control_model, image, 1.0, 0.0, 1.0)
    torch.testing.assert_close(_sample(model, apos, aneg), _sample(by_hand, cn_text, neg), rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def sd1_levels(app):
    model, clip, _ = run("CheckpointLoaderSimple", ckpt_name="sd1_levels.safetensors")
    return model, encode(clip, "a red square"), encode(clip, "blurry")


def test_t2i_adapter_adds_its_features_after_each_levels_last_block(sd1_levels):
    """By hand: the adapter's level-k feature times the strength added after input block
    3k + 2 (the input_block_patch point, after ControlNet residuals)."""
    model, pos, neg = sd1_levels
    adapter, image = _cn("t2i.safetensors"), _image(6)
    cpos, cneg = run("ControlNetApplyAdvanced", positive=pos, negative=neg, control_net=adapter, image=image,
                     strength=0.8, start_percent=0.0, end_percent=1.0)
    with_t2i = _sample(model, cpos, cneg)
    with torch.no_grad():
        features = adapter.t2i_model(upscale(image.movedim(-1, 1), 64, 64, "nearest-exact", "center"))
    clone = model.clone()

    def add_feature(h, options):
        kind, index = options["block"]
        if kind == "input" and index % 3 == 2:
            h = h + (features[index // 3] * 0.8).to(h)
        return h

    clone.set_model_input_block_patch(add_feature)
    torch.testing.assert_close(with_t2i, _sample(clone, pos, neg), rtol=0, atol=1e-6)
    assert not torch.allclose(with_t2i, _sample(model, pos, neg), atol=1e-3)
