"""Family detection and refusal cases on tiny checkpoints in the real layouts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from comfy_core.loading.checkpoint import load_checkpoint, load_unet
from comfy_core.loading.detect import detect_family
from comfy_core.loading.keymaps import strip_prefix
from comfy_core.loading.safetensors_io import CheckpointError
from comfy_core.models.family import FAMILIES
from comfy_core.tools.make_checkpoint import build_checkpoint, layout
from tests.fixtures.checkpoints import make_tiny_checkpoint

EXPECTED = {
    "sd15": ("sd15", "eps", ["clip_l"], None),
    "sd21": ("sd2", "eps", ["clip_h"], None),
    "sd21v": ("sd2_v", "v", ["clip_h"], None),
    "sdxl": ("sdxl", "eps", ["clip_g", "clip_l"], "sdxl"),
    "sdxl_refiner": ("sdxl_refiner", "eps", ["clip_g"], "sdxl_refiner"),
    "sd21_unclip": ("sd21_unclip", "v", ["clip_h"], "unclip"),
}


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_tiny_checkpoint_detected(family: str, tmp_path: Path) -> None:
    ckpt = load_checkpoint(make_tiny_checkpoint(family, tmp_path))
    name, prediction, encoders, adm = EXPECTED[family]
    assert ckpt.family.name == name
    assert ckpt.family.prediction == prediction
    assert sorted(ckpt.clip.encoders) == encoders
    assert ckpt.family.adm == adm
    assert ckpt.vae is not None and ckpt.vae.downscale_ratio == 8
    want_scale = 0.13025 if adm in ("sdxl", "sdxl_refiner") else 0.18215
    assert ckpt.family.latent.scale_factor == want_scale


@pytest.mark.parametrize("family,name", [("sd15", "sd15"), ("sd21v", "sd2_v"), ("sdxl", "sdxl"), ("sdxl_refiner", "sdxl_refiner")])
def test_full_size_configs_detected_from_shapes(family: str, name: str) -> None:
    """Real architectures (meta tensors: shapes only) give the real family configs."""
    from comfy_core.models.unet import UNetModel

    cfg = layout(family, "full").unet
    with torch.device("meta"):
        state = UNetModel(cfg).state_dict()
    if family == "sd21v":
        state["output_blocks.11.1.transformer_blocks.0.norm1.bias"] = torch.randn(1280) * 0.2
    detected = detect_family(state)
    assert detected.name == name
    assert detected.unet == FAMILIES[name].unet


def test_full_size_unclip_detected_from_shapes() -> None:
    """SD 2.1 unCLIP: SD2's UNet with a 2048-wide ADM input (ViT-H image embedding + level)."""
    from comfy_core.models.unet import UNetModel
    from comfy_core.tools.make_unclip import unclip_layout

    with torch.device("meta"):
        state = UNetModel(unclip_layout("full")[0].unet).state_dict()
    state["output_blocks.11.1.transformer_blocks.0.norm1.bias"] = torch.randn(1280) * 0.2
    detected = detect_family(state)
    assert (detected.name, detected.prediction, detected.adm) == ("sd21_unclip", "v", "unclip")
    assert detected.unet == FAMILIES["sd21_unclip"].unet and detected.adm_size == 2048


def test_inpainting_unet_detected(tmp_path: Path) -> None:
    state = build_checkpoint(layout("sd15", "tiny"))
    w = state["model.diffusion_model.input_blocks.0.0.weight"]
    state["model.diffusion_model.input_blocks.0.0.weight"] = torch.cat([w, torch.zeros(w.shape[0], 5, 3, 3)], 1)
    path = tmp_path / "inpaint.safetensors"
    save_file(state, str(path))
    ckpt = load_checkpoint(path)
    assert ckpt.family.inpaint and ckpt.family.unet.in_channels == 9


def test_sdxl_v_pred_marker_key(tmp_path: Path) -> None:
    state = build_checkpoint(layout("sdxl", "tiny"))
    state["v_pred"] = torch.tensor([])
    path = tmp_path / "vpred.safetensors"
    save_file(state, str(path))
    assert load_checkpoint(path).family.prediction == "v"


def test_unet_only_file_with_and_without_prefix(tmp_path: Path) -> None:
    full = load_file(str(make_tiny_checkpoint("sdxl", tmp_path)))
    bare = strip_prefix(full, "model.diffusion_model.")
    save_file(bare, str(tmp_path / "unet.safetensors"))
    model = load_unet(tmp_path / "unet.safetensors")
    assert model.model.family.name == "sdxl"


def test_pickle_checkpoint_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(b"not really")
    with pytest.raises(CheckpointError, match="model.ckpt.*pickle"):
        load_checkpoint(path)


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    good = make_tiny_checkpoint("sd15", tmp_path)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(good.read_bytes()[: 5000])
    with pytest.raises(CheckpointError, match="broken.safetensors"):
        load_checkpoint(bad)


def test_undetectable_file(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"foo.weight": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError, match="Could not detect model type of: other.safetensors"):
        load_checkpoint(path)


def test_missing_unet_weight_is_reported(tmp_path: Path) -> None:
    state = build_checkpoint(layout("sd15", "tiny"))
    del state["model.diffusion_model.out.2.bias"]
    path = tmp_path / "holes.safetensors"
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match="holes.safetensors.*missing"):
        load_checkpoint(path)
