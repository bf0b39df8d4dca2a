"""LoRA extraction: rank-r SVD factors with ComfyUI's 99th-percentile clamp, fp16, names."""

from __future__ import annotations

import numpy as np
import torch

from comfy_core.models.lora_extract import extract_lora, lora_from_diffs


def _low_rank(out: int, inp: int, rank: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(out, rank, generator=gen) @ torch.randn(rank, inp, generator=gen) * 0.01


def _numpy_reference(diff: torch.Tensor, rank: int, like: torch.Tensor) -> np.ndarray:
    """(U_r·S_r) and V_rᵀ from numpy's SVD, both clamped to the 99th percentile of their
    joint entries, multiplied back. Singular pairs are unique up to sign and the percentile
    sees the signs, so each pair takes the sign of the extracted `like` factor's."""
    u, s, vh = np.linalg.svd(diff.double().numpy(), full_matrices=False)
    signs = np.sign(np.sum(u[:, :rank] * like.double().numpy(), axis=0))
    up, down = u[:, :rank] * s[:rank] * signs, vh[:rank] * signs[:, None]
    hi = np.quantile(np.concatenate([up.ravel(), down.ravel()]), 0.99)
    return np.clip(up, -hi, hi) @ np.clip(down, -hi, hi)


def test_factors_are_the_clamped_svd() -> None:
    diff = _low_rank(64, 48, 4, 0)
    up, down = extract_lora(diff, 4)
    assert up.shape == (64, 4) and down.shape == (4, 48)
    np.testing.assert_allclose((up @ down).double().numpy(), _numpy_reference(diff, 4, up), rtol=1e-4, atol=1e-6)
    err = torch.linalg.norm(up @ down - diff) / torch.linalg.norm(diff)
    assert err < 0.25  # an exact-rank difference, changed only by the clamp


def test_truncation_error_is_the_eckart_young_bound() -> None:
    diff = torch.randn(40, 30, generator=torch.Generator().manual_seed(1))
    up, down = extract_lora(diff, 6)
    s = torch.linalg.svdvals(diff)
    bound = torch.sqrt((s[6:] ** 2).sum())
    err = torch.linalg.norm(up @ down - diff)
    assert bound <= err <= 1.5 * bound


def test_conv_factors_and_names() -> None:
    conv = _low_rank(8, 4 * 9, 2, 2).reshape(8, 4, 3, 3)
    diffs = {"diffusion_model.a.weight": conv, "diffusion_model.a.bias": torch.ones(8),
             "diffusion_model.norm.weight": torch.ones(8), "other.weight": torch.ones(2, 2)}
    out = lora_from_diffs(diffs, "diffusion_model.", "diffusion_model.", rank=2, bias_diff=True)
    assert set(out) == {"diffusion_model.a.lora_up.weight", "diffusion_model.a.lora_down.weight",
                        "diffusion_model.a.diff_b", "diffusion_model.norm.diff"}
    up, down = out["diffusion_model.a.lora_up.weight"], out["diffusion_model.a.lora_down.weight"]
    assert up.shape == (8, 2, 1, 1) and down.shape == (2, 4, 3, 3) and up.dtype == torch.float16
    rebuilt = (up.float().flatten(1) @ down.float().flatten(1)).reshape(conv.shape)
    want = _numpy_reference(conv.flatten(1), 2, up.float().flatten(1)).reshape(conv.shape)
    np.testing.assert_allclose(rebuilt.double().numpy(), want, atol=2e-4)  # fp16 factors
    full = lora_from_diffs(diffs, "diffusion_model.", "diffusion_model.", rank=2, lora_type="full_diff")
    assert set(full) == {"diffusion_model.a.diff", "diffusion_model.norm.diff"}
    assert torch.equal(full["diffusion_model.a.diff"], conv.half())
