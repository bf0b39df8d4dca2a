"""Pure transforms of ComfyUI's CONDITIONING list `[[cond [1, T, D], {options}], ...]`.

Every function returns a new list whose option dicts are shallow copies, so upstream
outputs (which the executor caches) are never modified.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

log = logging.getLogger(__name__)

Conditioning = list  # [[Tensor [1, T, D], dict], ...]


def set_values(conditioning: Conditioning, values: dict[str, Any]) -> Conditioning:
    """Copy of `conditioning` with `values` merged into every entry's options."""
    return [[cond, {**opts, **values}] for cond, opts in conditioning]


def _first_from(conditioning_from: Conditioning, node: str) -> tuple[torch.Tensor, dict]:
    if not conditioning_from:
        raise ValueError(f"{node}: conditioning_from is empty")
    if len(conditioning_from) > 1:
        log.warning("%s: conditioning_from has %d entries; only the first is used", node,
                    len(conditioning_from))
    return conditioning_from[0][0], conditioning_from[0][1]


def average(conditioning_to: Conditioning, conditioning_from: Conditioning,
            to_strength: float) -> Conditioning:
    """`to * s + from * (1 - s)` per token; `from` is cut or zero-padded to `to`'s length
    and pooled outputs are blended the same way."""
    cond_from, opts_from = _first_from(conditioning_from, "ConditioningAverage")
    pooled_from = opts_from.get("pooled_output")
    out = []
    for cond_to, opts_to in conditioning_to:
        part = cond_from[:, :cond_to.shape[1]]
        if part.shape[1] < cond_to.shape[1]:
            pad = part.new_zeros((1, cond_to.shape[1] - part.shape[1], cond_to.shape[2]))
            part = torch.cat([part, pad], dim=1)
        opts = dict(opts_to)
        pooled_to = opts_to.get("pooled_output", pooled_from)
        if pooled_from is not None and pooled_to is not None:
            opts["pooled_output"] = pooled_to * to_strength + pooled_from * (1.0 - to_strength)
        elif pooled_from is not None:
            opts["pooled_output"] = pooled_from
        out.append([cond_to * to_strength + part * (1.0 - to_strength), opts])
    return out


def concat(conditioning_to: Conditioning, conditioning_from: Conditioning) -> Conditioning:
    """Append the first `from` entry's tokens to every `to` entry (token axis)."""
    cond_from, _ = _first_from(conditioning_from, "ConditioningConcat")
    return [[torch.cat((cond, cond_from), dim=1), dict(opts)] for cond, opts in conditioning_to]


def zero_out(conditioning: Conditioning) -> Conditioning:
    """Zero tensors of the same shapes (tokens, pooled output, lyrics)."""
    out = []
    for cond, opts in conditioning:
        opts = dict(opts)
        for key in ("pooled_output", "conditioning_lyrics"):
            if opts.get(key) is not None:
                opts[key] = torch.zeros_like(opts[key])
        out.append([torch.zeros_like(cond), opts])
    return out


def set_mask(conditioning: Conditioning, mask: torch.Tensor, strength: float,
             set_cond_area: str) -> Conditioning:
    """Attach a MASK (`[B, H, W]`) with its strength; "mask bounds" crops to its box."""
    if mask.ndim < 3:
        mask = mask.unsqueeze(0)
    return set_values(conditioning, {"mask": mask,
                                     "set_area_to_bounds": set_cond_area != "default",
                                     "mask_strength": strength})
