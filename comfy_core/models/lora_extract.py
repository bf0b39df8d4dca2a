"""LoRA extraction from weight differences (LoraSave): each difference ΔW is approximated by
its best rank-r factorisation from the SVD (Eckart–Young), ΔW ≈ (U_r·S_r)·V_rᵀ, stored as
`lora_up` = U_r·S_r and `lora_down` = V_rᵀ. As ComfyUI does: both factors are clamped to the
99th percentile of their joint magnitudes (outliers would dominate fp16), convolutions are
flattened to (out, in·kh·kw) and the up factor is a 1x1 conv, tensors are written in fp16,
no alpha (scale 1). `full_diff` keeps every difference whole (`.diff`); `bias_diff` adds the
1-D weight and bias differences (`.diff`, `.diff_b`).
"""

from __future__ import annotations

from typing import Mapping

import torch

CLAMP_QUANTILE = 0.99
LORA_TYPES = ("standard", "full_diff")


def extract_lora(diff: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(up, down) with up @ down ≈ diff at rank min(rank, out, in); 4-D diffs give conv
    factors (out, r, 1, 1) and (r, in, kh, kw)."""
    out_dim, in_dim = diff.shape[:2]
    kernel = tuple(diff.shape[2:])
    rank = min(rank, out_dim, in_dim)
    matrix = diff.float().reshape(out_dim, -1)  # (out, in·kh·kw)
    u, s, vh = torch.linalg.svd(matrix, full_matrices=False)
    up = u[:, :rank] * s[:rank]  # (out, r) = U_r · diag(S_r)
    down = vh[:rank]  # (r, in·kh·kw)
    hi = torch.quantile(torch.cat([up.flatten(), down.flatten()]), CLAMP_QUANTILE)
    up, down = up.clamp(-hi, hi), down.clamp(-hi, hi)
    if kernel:
        return up.reshape(out_dim, rank, 1, 1), down.reshape(rank, in_dim, *kernel)
    return up, down


def _half(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().to("cpu", torch.float16)


def lora_from_diffs(diffs: Mapping[str, torch.Tensor], prefix_model: str, prefix_lora: str, rank: int,
                    lora_type: str = "standard", bias_diff: bool = False) -> dict[str, torch.Tensor]:
    """LoRA tensors for the `prefix_model` entries of a difference state dict, named
    `prefix_lora` + the key's path (the generic `diffusion_model.` / `text_encoders.` LoRA
    names every loader maps back)."""
    if lora_type not in LORA_TYPES:
        raise ValueError(f"unknown lora_type {lora_type!r}; expected one of {list(LORA_TYPES)}")
    out: dict[str, torch.Tensor] = {}
    for key, diff in diffs.items():
        if not key.startswith(prefix_model):
            continue
        path = prefix_lora + key[len(prefix_model):]
        if key.endswith(".weight"):
            name = path[: -len(".weight")]
            if lora_type == "full_diff":
                out[name + ".diff"] = _half(diff)
            elif diff.ndim < 2:
                if bias_diff:
                    out[name + ".diff"] = _half(diff)
            else:
                up, down = extract_lora(diff, rank)
                out[name + ".lora_up.weight"], out[name + ".lora_down.weight"] = _half(up), _half(down)
        elif bias_diff and key.endswith(".bias"):
            out[path[: -len(".bias")] + ".diff_b"] = _half(diff)
    return out
