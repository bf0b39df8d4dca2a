"""make_checkpoint's --controlnet and --upscale flags write files the loaders accept, and
refuse incomplete arguments."""

from __future__ import annotations

import pytest

from comfy_core.loading.controlnet import load_controlnet
from comfy_core.loading.upscale_models import load_upscale_model
from comfy_core.models.control_nets import ControlNet, T2IAdapter
from comfy_core.tools.make_checkpoint import main


def test_cli_writes_controlnets_and_upscale_models(tmp_path):
    main(["--controlnet", "ldm", "--family", "sdxl", "--out", str(tmp_path / "cn.safetensors")])
    main(["--controlnet", "t2i_light", "--family", "sd15", "--out", str(tmp_path / "t2i.safetensors")])
    main(["--upscale", "compact", "--out", str(tmp_path / "up.safetensors")])
    control = load_controlnet(tmp_path / "cn.safetensors")
    assert isinstance(control, ControlNet) and control.control_model.config.family == "sdxl"
    assert isinstance(load_controlnet(tmp_path / "t2i.safetensors"), T2IAdapter)
    assert load_upscale_model(tmp_path / "up.safetensors").scale == 2


@pytest.mark.parametrize("argv", [["--controlnet", "ldm", "--out", "x.safetensors"], ["--upscale", "esrgan"],
                                  ["--controlnet", "diff", "--family", "sd15", "--out", "x.safetensors"]])
def test_cli_refuses_incomplete_arguments(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises((SystemExit, ValueError)):
        main(argv)
