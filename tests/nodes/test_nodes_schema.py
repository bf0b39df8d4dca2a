"""Class attributes that /object_info exposes, checked against COMPAT 6-7."""

from __future__ import annotations

import sys

import pytest

import nodes
from nodes import NODE_CLASS_MAPPINGS as M
from nodes import NODE_DISPLAY_NAME_MAPPINGS as D

CATEGORIES = {
    "EmptyImage": "image", "ImageInvert": "image", "ImageBatch": "image", "SaveImage": "image",
    "PreviewImage": "image", "LoadImage": "image", "ImageScale": "image/upscaling",
    "ImageScaleBy": "image/upscaling", "LoadImageMask": "mask", "SolidMask": "mask",
    "PrimitiveInt": "utils/primitive", "PrimitiveStringMultiline": "utils/primitive",
}
DISPLAY = {
    "SaveImage": "Save Image", "PreviewImage": "Preview Image", "LoadImage": "Load Image",
    "LoadImageMask": "Load Image (as Mask)", "ImageScale": "Upscale Image",
    "ImageScaleBy": "Upscale Image By", "ImageInvert": "Invert Image",
    "ImageBatch": "Batch Images", "PrimitiveInt": "Int", "PrimitiveFloat": "Float",
    "PrimitiveString": "String", "PrimitiveStringMultiline": "String (Multiline)",
    "PrimitiveBoolean": "Boolean",
}


def required(name, app=None):
    return M[name].INPUT_TYPES()["required"]


@pytest.mark.parametrize("name,category", sorted(CATEGORIES.items()))
def test_categories(name, category):
    assert M[name].CATEGORY == category


@pytest.mark.parametrize("name,title", sorted(DISPLAY.items()))
def test_display_names(name, title):
    assert D[name] == title


def test_every_node_has_the_classic_abi():
    """Classic nodes and V3 ones alike (V3: RETURN_TYPES is a list, as in ComfyUI)."""
    for name, cls in M.items():
        assert isinstance(cls.RETURN_TYPES, (list, tuple)), name
        assert callable(getattr(cls(), cls.FUNCTION)), name
        assert name in D or name not in DISPLAY


def test_image_node_inputs():
    assert required("EmptyImage")["color"] == ("INT", {"default": 0, "min": 0, "max": 0xFFFFFF,
                                                      "step": 1, "display": "color"})
    assert required("ImageScale")["upscale_method"] == (
        ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"],)
    assert required("ImageScale")["width"] == ("INT", {"default": 512, "min": 0,
                                                      "max": 16384, "step": 1})
    assert required("ImageScale")["crop"] == (["disabled", "center"],)
    assert required("ImageScaleBy")["scale_by"] == ("FLOAT", {"default": 1.0, "min": 0.01,
                                                             "max": 8.0, "step": 0.01})
    assert M["ImageBatch"].DEPRECATED is True


def test_output_nodes_and_hidden_inputs():
    for name in ("SaveImage", "PreviewImage"):
        spec = M[name].INPUT_TYPES()
        assert M[name].OUTPUT_NODE is True and M[name].RETURN_TYPES == ()
        assert spec["hidden"] == {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}
    assert required("SaveImage")["filename_prefix"][1]["default"] == "ComfyUI"
    assert list(M["PreviewImage"].INPUT_TYPES()["required"]) == ["images"]


def test_primitives():
    assert required("PrimitiveInt")["value"] == ("INT", {"min": -sys.maxsize, "max": sys.maxsize,
                                                        "control_after_generate": True})
    assert required("PrimitiveStringMultiline")["value"] == ("STRING", {"multiline": True})
    assert M["PrimitiveBoolean"]().execute(True)[0] is True
    assert M["PrimitiveInt"].RELATIVE_PYTHON_MODULE == "comfy_extras.nodes_primitive"


def test_load_image_mask_inputs(app):
    spec = required("LoadImageMask")
    assert spec["channel"] == (["alpha", "red", "green", "blue"],)
    assert spec["image"][1] == {"image_upload": True}


def test_mappings_are_merged_from_every_module():
    assert set(nodes.NODE_DISPLAY_NAME_MAPPINGS) <= set(nodes.NODE_CLASS_MAPPINGS)
