"""Hypernetwork MLPs and their attention patch against a hand computation of the A1111 rule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from comfy_core.loading.hypernetworks import load_hypernetwork
from comfy_core.loading.safetensors_io import CheckpointError, save_state_dict
from comfy_core.tools.make_hypernetwork import random_hypernetwork_state, write_hypernetwork


def _by_hand(x: torch.Tensor, sd: dict, prefix: str) -> torch.Tensor:
    """Linear, ReLU, LayerNorm, Linear, LayerNorm (no activation after the last layer)."""
    h = F.relu(F.linear(x, sd[f"{prefix}.linear.0.weight"], sd[f"{prefix}.linear.0.bias"]))
    h = F.layer_norm(h, h.shape[-1:], sd[f"{prefix}.linear.2.weight"], sd[f"{prefix}.linear.2.bias"])
    h = F.linear(h, sd[f"{prefix}.linear.3.weight"], sd[f"{prefix}.linear.3.bias"])
    return F.layer_norm(h, h.shape[-1:], sd[f"{prefix}.linear.5.weight"], sd[f"{prefix}.linear.5.bias"])


def test_patch_adds_scaled_mlps_to_keys_and_values(tmp_path) -> None:
    patch = load_hypernetwork(write_hypernetwork(tmp_path / "hn.safetensors", seed=4), strength=0.7)
    sd = random_hypernetwork_state(seed=4)
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 5, 64, generator=gen) for _ in range(3))
    with torch.no_grad():
        q2, k2, v2 = patch(q, k, v, {})
    assert q2 is q
    torch.testing.assert_close(k2, k + 0.7 * _by_hand(k, sd, "64.0"), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(v2, v + 0.7 * _by_hand(v, sd, "64.1"), rtol=1e-5, atol=1e-5)
    other = torch.randn(1, 3, 48)  # a width the hypernetwork has no MLPs for
    assert patch(other, other, other, {})[1] is other


def test_wrong_files_are_named(tmp_path) -> None:
    save_state_dict({"lora_unet_a.lora_up.weight": torch.zeros(2, 2)}, tmp_path / "lora.safetensors")
    with pytest.raises(CheckpointError, match=r"lora\.safetensors: unexpected tensor .* a LoRA"):
        load_hypernetwork(tmp_path / "lora.safetensors", 1.0)
    (tmp_path / "old.pt").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(CheckpointError, match=r"old\.pt: pickle checkpoints \(\.pt\) are refused"):
        load_hypernetwork(tmp_path / "old.pt", 1.0)
    save_state_dict(random_hypernetwork_state(seed=0), tmp_path / "nometa.safetensors")
    with pytest.raises(CheckpointError, match="do not fit the options"):  # layer norms, options say none
        load_hypernetwork(tmp_path / "nometa.safetensors", 1.0)
