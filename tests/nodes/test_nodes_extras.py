"""The image, latent, mask, string, logic and preview nodes from ComfyUI's extras: their
/object_info entries equal ComfyUI 0.8.0's, and workflows of them run through the real
validator and executor with files written to real folders."""

from __future__ import annotations

import json
import threading

import pytest
import torch
from PIL import Image

import nodes
from comfy_core.execution import Executor, make_cache
from comfy_core.graph import validate_prompt
from comfy_core.images.latent_files import load_latent
from comfy_core.registry import NodeRegistry
from nodes import image_filters, image_tools, latent_tools, utility
from tests.fixtures.reference import as_json, reference_object_info

NEW_IDS = sorted(list(image_filters.NODE_CLASS_MAPPINGS) + list(image_tools.NODE_CLASS_MAPPINGS)
                 + list(latent_tools.NODE_CLASS_MAPPINGS) + list(utility.NODE_CLASS_MAPPINGS)
                 + ["MaskPreview", "WebcamCapture", "LoadImageOutput", "InstructPixToPixConditioning",
                    "DiffusersLoader"])


def registry() -> NodeRegistry:
    reg = NodeRegistry()
    for module, (classes, titles) in nodes.mappings_by_python_module().items():
        reg.register_mappings(classes, titles, module)
    return reg


def _without_text(entry: dict) -> dict:
    """Descriptions and tooltips are free text in our own words; everything else must match."""
    entry = json.loads(json.dumps(entry))
    entry.pop("description", None)
    entry.pop("output_tooltips", None)
    for section in entry["input"].values():
        for spec in section.values():
            if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict):
                spec[1].pop("tooltip", None)
    return entry


def test_object_info_equals_comfyui_for_every_new_node(app):
    ours, theirs = as_json(registry().object_info()), reference_object_info()
    assert len(NEW_IDS) == 62
    for name in NEW_IDS:
        assert _without_text(ours[name]) == _without_text(theirs[name]), name
        assert list(ours[name]) == list(theirs[name]), name


def run(prompt: dict, extra_data: dict | None = None):
    reg = registry()
    checked = validate_prompt(reg, prompt)
    assert checked.ok, checked
    result = Executor(reg, make_cache("classic")).run(
        checked.prompt, "p1", extra_data or {}, checked.outputs, lambda e: None, threading.Event())
    assert result.status_str == "success", result.error
    return result


WORKFLOW = {"workflow": {"nodes": [], "note": "embedded"}}


def test_image_workflow_filters_resize_batch_stitch_and_animated_saves(app):
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 16, "batch_size": 1,
                                                     "color": 0xFF0000}},
        "2": {"class_type": "ImageBlur", "inputs": {"image": ["1", 0], "blur_radius": 2, "sigma": 1.0}},
        "3": {"class_type": "ImageSharpen", "inputs": {"image": ["2", 0], "sharpen_radius": 1,
                                                       "sigma": 1.0, "alpha": 1.0}},
        "4": {"class_type": "ResizeImageMaskNode", "inputs": {
            "input": ["3", 0], "resize_type": "scale by multiplier", "resize_type.multiplier": 0.5,
            "scale_method": "area"}},
        "5": {"class_type": "BatchImagesNode", "inputs": {"images.image0": ["4", 0],
                                                          "images.image1": ["1", 0]}},
        "6": {"class_type": "ImageStitch", "inputs": {
            "image1": ["5", 0], "direction": "right", "match_image_size": True,
            "spacing_width": 2, "spacing_color": "white", "image2": ["4", 0]}},
        "7": {"class_type": "SaveAnimatedPNG", "inputs": {"images": ["6", 0], "fps": 4.0,
                                                          "compress_level": 4,
                                                          "filename_prefix": "anim/x"}},
        "8": {"class_type": "SaveAnimatedWEBP", "inputs": {
            "images": ["6", 0], "filename_prefix": "anim/w", "fps": 4.0, "lossless": True,
            "quality": 80, "method": "fastest"}},
        "9": {"class_type": "GetImageSize", "inputs": {"image": ["6", 0]}},
        "10": {"class_type": "PreviewAny", "inputs": {"source": ["9", 0]}},
    }
    result = run(prompt, {"extra_pnginfo": WORKFLOW})
    assert result.outputs["10"] == {"text": ["34"]}  # 16 wide + 2 gap + 16
    png_ui, webp_ui = result.outputs["7"], result.outputs["8"]
    assert png_ui["images"] == [{"filename": "x_00001_.png", "subfolder": "anim", "type": "output"}]
    assert png_ui["animated"] == [True] and webp_ui["images"][0]["filename"] == "w_00001_.webp"
    folder = app.folders.output_dir / "anim"
    with Image.open(folder / "x_00001_.png") as apng:
        assert apng.n_frames == 2 and apng.size == (34, 8)
    raw = (folder / "x_00001_.png").read_bytes()
    # the workflow in a "comf" chunk after the image data, as "workflow\0<json>"
    chunk = raw.index(b"comfworkflow\x00")
    assert raw.index(b"IDAT") < chunk and b'"note": "embedded"' in raw[chunk:]
    with Image.open(folder / "w_00001_.webp") as webp:
        assert webp.n_frames == 2
        exif = webp.getexif()
    assert exif[0x0110].startswith("prompt:") and json.loads(exif[0x010F].split(":", 1)[1]) == WORKFLOW["workflow"]


def test_latent_workflow_save_load_and_rebatch(app):
    prompt = {
        "1": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 32, "batch_size": 3}},
        "2": {"class_type": "LatentMultiply", "inputs": {"samples": ["1", 0], "multiplier": 2.0}},
        "3": {"class_type": "LatentBatchSeedBehavior", "inputs": {"samples": ["2", 0],
                                                                  "seed_behavior": "fixed"}},
        "4": {"class_type": "SaveLatent", "inputs": {"samples": ["3", 0], "filename_prefix": "latents/t"}},
        "5": {"class_type": "RebatchLatents", "inputs": {"latents": ["3", 0], "batch_size": 2}},
        "6": {"class_type": "PreviewAny", "inputs": {"source": ["5", 0]}},
    }
    result = run(prompt, {"extra_pnginfo": WORKFLOW})
    assert result.outputs["4"] == {"latents": [{"filename": "t_00001_.latent", "subfolder": "latents",
                                                "type": "output"}]}
    saved = app.folders.output_dir / "latents" / "t_00001_.latent"
    assert load_latent(saved)["samples"].shape == (3, 4, 4, 8)
    assert len(result.outputs["6"]["text"]) == 2  # the list output ran the preview twice
    (app.folders.input_dir / "t.latent").write_bytes(saved.read_bytes())
    loaded = run({"1": {"class_type": "LoadLatent", "inputs": {"latent": "t.latent"}},
                  "2": {"class_type": "LatentCut", "inputs": {"samples": ["1", 0], "dim": "x",
                                                              "index": 0, "amount": 2}},
                  "3": {"class_type": "SaveLatent", "inputs": {"samples": ["2", 0],
                                                              "filename_prefix": "latents/t"}}})
    second = load_latent(app.folders.output_dir / "latents" / "t_00002_.latent")["samples"]
    assert loaded.status_str == "success" and second.shape == (3, 4, 4, 2)


def test_switch_runs_only_the_chosen_branch(app):
    prompt = {
        "1": {"class_type": "PrimitiveString", "inputs": {"value": "Hello"}},
        "2": {"class_type": "StringConcatenate", "inputs": {"string_a": ["1", 0], "string_b": "world",
                                                            "delimiter": ", "}},
        "3": {"class_type": "RegexReplace", "inputs": {"string": ["2", 0], "regex_pattern": "(",
                                                       "replace": "x"}},  # fails if it ever runs
        "4": {"class_type": "CaseConverter", "inputs": {"string": ["2", 0], "mode": "UPPERCASE"}},
        "5": {"class_type": "ComfySwitchNode", "inputs": {"switch": True, "on_true": ["4", 0],
                                                          "on_false": ["3", 0]}},
        "6": {"class_type": "PreviewAny", "inputs": {"source": ["5", 0]}},
        "7": {"class_type": "CustomCombo", "inputs": {"choice": "typed in the editor"}},
        "8": {"class_type": "PreviewAny", "inputs": {"source": ["7", 0]}},
    }
    result = run(prompt)
    assert result.outputs["6"] == {"text": ["HELLO, WORLD"]}
    assert result.outputs["8"] == {"text": ["typed in the editor"]}


def test_mask_preview_webcam_and_alpha_nodes(app):
    capture = app.folders.temp_dir / "webcam"
    capture.mkdir(parents=True)
    Image.new("RGBA", (6, 4), (0, 0, 255, 128)).save(capture / "shot.png")
    prompt = {
        "1": {"class_type": "WebcamCapture", "inputs": {"image": "webcam/shot.png [temp]", "width": 0,
                                                        "height": 0, "capture_on_queue": True}},
        "2": {"class_type": "SolidMask", "inputs": {"value": 0.25, "width": 6, "height": 4}},
        "3": {"class_type": "JoinImageWithAlpha", "inputs": {"image": ["1", 0], "alpha": ["2", 0]}},
        "4": {"class_type": "SplitImageWithAlpha", "inputs": {"image": ["3", 0]}},
        "5": {"class_type": "MaskPreview", "inputs": {"mask": ["4", 1]}},
    }
    result = run(prompt)
    [entry] = result.outputs["5"]["images"]
    assert entry["type"] == "temp"
    with Image.open(app.folders.temp_dir / entry["subfolder"] / entry["filename"]) as preview:
        assert preview.size == (6, 4) and preview.convert("L").getpixel((0, 0)) == 63  # 0.25 * 255


@pytest.mark.parametrize("bad,message", [
    ({"class_type": "ImageBlur", "inputs": {"blur_radius": 40}}, "bigger than max"),
    ({"class_type": "LatentConcat", "inputs": {"dim": "z"}}, "not in"),
])
def test_bad_inputs_are_refused_at_validation(app, bad, message):
    node = {"class_type": bad["class_type"], "inputs": {**bad["inputs"]}}
    checked = validate_prompt(registry(), {"1": node, "2": {"class_type": "PreviewAny",
                                                          "inputs": {"source": ["1", 0]}}})
    assert not checked.ok and message in json.dumps(checked.node_errors)


def test_image_add_noise_is_seeded(app):
    image = torch.full((1, 4, 4, 3), 0.5)
    one = image_tools.ImageAddNoise.execute(image, 3, 0.2)[0]
    assert torch.equal(one, image_tools.ImageAddNoise.execute(image, 3, 0.2)[0])
    assert not torch.equal(one, image_tools.ImageAddNoise.execute(image, 4, 0.2)[0])


def test_resize_image_mask_follows_its_input_type_and_every_mode(app):
    prompt = {
        "1": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 40, "height": 20}},
        "2": {"class_type": "EmptyImage", "inputs": {"width": 12, "height": 6, "batch_size": 1, "color": 0}},
        "3": {"class_type": "ResizeImageMaskNode", "inputs": {
            "input": ["1", 0], "resize_type": "match size", "resize_type.match": ["2", 0],
            "resize_type.crop": "center", "scale_method": "bilinear"}},
        "4": {"class_type": "MaskPreview", "inputs": {"mask": ["3", 0]}},  # a MASK comes out
        "5": {"class_type": "ImageQuantize", "inputs": {"image": ["2", 0], "colors": 2,
                                                        "dither": "bayer-4"}},
        "6": {"class_type": "GetImageSize", "inputs": {"image": ["5", 0]}},
        "7": {"class_type": "PreviewAny", "inputs": {"source": ["6", 1]}},
    }
    result = run(prompt)
    assert result.outputs["7"] == {"text": ["6"]}
    [entry] = result.outputs["4"]["images"]
    with Image.open(app.folders.temp_dir / entry["filename"]) as preview:
        assert preview.size == (12, 6)
    mask = torch.ones(1, 20, 40)
    node = image_filters.ResizeImageMaskNode
    cases = {("scale dimensions", "width", 10): (1, 5, 10), ("scale longer dimension", "longer_size", 8): (1, 4, 8),
             ("scale shorter dimension", "shorter_size", 8): (1, 8, 16), ("scale width", "width", 20): (1, 10, 20),
             ("scale height", "height", 5): (1, 5, 10), ("scale by multiplier", "multiplier", 0.5): (1, 10, 20),
             ("scale total pixels", "megapixels", 200 / 2 ** 20): (1, 10, 20)}
    for (kind, name, value), shape in cases.items():
        options = {"resize_type": kind, "height": 0, "crop": "disabled", name: value}
        assert node.execute(mask, options, "area")[0].shape == shape, kind
