"""The random-checkpoint command line writes loadable files in the real layouts."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from comfy_core.loading.checkpoint import load_checkpoint
from comfy_core.models.lora import apply_lora
from comfy_core.loading.safetensors_io import load_state_dict
from comfy_core.tools.make_checkpoint import main


def test_cli_writes_checkpoint_and_lora(tmp_path: Path) -> None:
    ckpt_path, lora_path = tmp_path / "r.safetensors", tmp_path / "lora.safetensors"
    main(["--family", "sdxl_refiner", "--size", "tiny", "--out", str(ckpt_path), "--seed", "3", "--dtype", "fp16"])
    with safe_open(str(ckpt_path), "pt") as f:
        keys = set(f.keys())
        assert f.get_tensor("model.diffusion_model.out.2.weight").dtype == torch.float16
    assert "conditioner.embedders.0.model.transformer.resblocks.0.attn.in_proj_weight" in keys
    assert "first_stage_model.decoder.mid.attn_1.q.weight" in keys
    main(["--family", "sdxl_refiner", "--lora", str(lora_path), "--checkpoint", str(ckpt_path)])
    ckpt = load_checkpoint(ckpt_path)
    assert ckpt.family.name == "sdxl_refiner"
    _, clip, unmatched = apply_lora(ckpt.model, ckpt.clip, load_state_dict(lora_path))
    assert unmatched == [] and clip is not None and clip.patcher.patches


def test_same_seed_same_weights(tmp_path: Path) -> None:
    for name in ("a", "b"):
        main(["--family", "sd15", "--out", str(tmp_path / f"{name}.safetensors"), "--seed", "7"])
    a, b = load_state_dict(tmp_path / "a.safetensors"), load_state_dict(tmp_path / "b.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
