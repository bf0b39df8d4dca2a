"""How conditioning entries share model calls (COMPAT 9.4): each active entry becomes a
job (its crop of x, its weights, its tokens, ADM vector, concat channels, ControlNet and
per-entry patches); compatible jobs run in one batched call ordered as ComfyUI orders
them, area/mask/strength weights and σ ranges applied, cross-attention lengths repeated
to their LCM."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from comfy_core.sampling.conditioning import ResolvedCond
from comfy_core.sampling.model_conds import cat_cross_attn, cross_attn_batchable, repeat_to_batch
from comfy_core.sampling.model_sampling import SIGMA_BEFORE_START

AREA_FUZZ = 8  # latent pixels of linear feathering at inner area edges


@dataclass(frozen=True)
class Job:
    """One entry's share of a model call: cropped input, weights and conditioning."""

    x: torch.Tensor  # [B, C, ah, aw]
    mult: torch.Tensor  # [B, C, ah, aw]
    area: tuple[int, int, int, int] | None
    cross_attn: torch.Tensor  # [B, T, D]
    y: torch.Tensor | None  # [B, adm], or int64 class labels [B]
    side: int  # index of the cond list (0 = positive, 1 = negative, ...)
    concat: torch.Tensor | None = None  # [B, 1 + C, ah, aw]
    control: Any = None
    patches: dict | None = None  # per-entry transformer patches (GLIGEN)
    uuid: Any = None
    cross_attn_controlnet: torch.Tensor | None = None  # [B, T, D] tokens for the ControlNet only
    extra: dict | None = None  # plugin-added model inputs (comfy.conds wrappers), fitted to this crop


def _feather(mult: torch.Tensor, area: tuple[int, int, int, int], full_hw: tuple[int, int]) -> None:
    """Ramp the weights linearly over up to 8 pixels at area edges inside the latent."""
    for dim in range(2):
        size, offset = area[dim], area[2 + dim]
        rr = min(AREA_FUZZ, mult.shape[2 + dim] // 4)
        for t in range(rr):
            if offset != 0:
                mult.narrow(2 + dim, t, 1).mul_((1.0 / rr) * (t + 1))
            if size + offset < full_hw[dim]:
                mult.narrow(2 + dim, size - 1 - t, 1).mul_((1.0 / rr) * (t + 1))


def _active(c: ResolvedCond, sigma: torch.Tensor) -> bool:
    """Whether σ is inside the entry's timestep range. Reading σ waits for the device, so
    entries that span every step (the default) never read it."""
    if c.sigma_start >= SIGMA_BEFORE_START and c.sigma_end <= 0.0:
        return True
    return c.sigma_end <= float(sigma[0]) <= c.sigma_start


def _gligen_patches(c: ResolvedCond, x: torch.Tensor) -> dict | None:
    """GLIGEN's middle patch for this crop (ComfyUI's `gligen` cond key)."""
    if c.gligen is None:
        return None
    kind, model = c.gligen[0], c.gligen[1]
    if kind == "position":
        patch = model.model.set_position(x.shape, c.gligen[2], x.device)
    else:
        patch = model.model.set_empty(x.shape, x.device)
    return {"middle_patch": [patch]}


def make_job(c: ResolvedCond, x: torch.Tensor, sigma: torch.Tensor, side: int) -> Job | None:
    """The entry's input crop and weights at this σ, or None when σ is outside its range."""
    if not _active(c, sigma):
        return None
    batch, hw = x.shape[0], (x.shape[2], x.shape[3])
    area, crop = None, x
    if c.area is not None:
        h = min(hw[0] - c.area[2], c.area[0])
        w = min(hw[1] - c.area[3], c.area[1])
        area = (h, w, c.area[2], c.area[3])
        crop = x[:, :, area[2] : area[2] + h, area[3] : area[3] + w]
    if c.mask is not None:
        mask = c.mask[:batch].to(x)
        if area is not None:
            mask = mask[:, area[2] : area[2] + area[0], area[3] : area[3] + area[1]]
        mask = (mask * c.mask_strength).unsqueeze(1)
        mult = mask.repeat(batch // mask.shape[0], x.shape[1], 1, 1) * c.strength
    else:
        mult = torch.ones_like(crop) * c.strength
        if area is not None:
            _feather(mult, area, hw)
    y = None if c.y is None else repeat_to_batch(c.y, batch).to(x.device, x.dtype if c.y.is_floating_point() else c.y.dtype)
    concat = None
    if c.concat is not None:
        concat = repeat_to_batch(c.concat, batch).to(x)
        if area is not None:
            concat = concat[:, :, area[2] : area[2] + area[0], area[3] : area[3] + area[1]]
    cn_tokens = c.options.get("cross_attn_controlnet")  # CLIPTextEncodeControlnet
    cn_tokens = None if cn_tokens is None else repeat_to_batch(cn_tokens, batch).to(x)
    extra = None if not c.extra_conds else {
        k: v.process_cond(batch_size=batch, device=x.device, area=area) for k, v in c.extra_conds.items()}
    return Job(crop, mult, area, repeat_to_batch(c.cross_attn, batch).to(x), y, side, concat, c.control,
               _gligen_patches(c, crop), c.uuid, cn_tokens, extra)


def _same_tensor_shape(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    return (a is None) == (b is None) and (a is None or a.shape == b.shape)


def concatenable(a: Job, b: Job) -> bool:
    if a.x.shape != b.x.shape or not _same_tensor_shape(a.y, b.y) or not _same_tensor_shape(a.concat, b.concat):
        return False
    if a.control is not b.control or a.patches is not b.patches:
        return False
    if (a.cross_attn_controlnet is None) != (b.cross_attn_controlnet is None):
        return False
    if not _extras_concatenable(a.extra, b.extra):
        return False
    return cross_attn_batchable(a.cross_attn.shape, b.cross_attn.shape)


def _extras_concatenable(a: dict | None, b: dict | None) -> bool:
    if not a or not b:
        return not a and not b
    return a.keys() == b.keys() and all(a[k].can_concat(b[k]) for k in a)


def pending_jobs(conds: Sequence[Sequence[ResolvedCond] | None], x: torch.Tensor, sigma: torch.Tensor) -> list[Job]:
    """Jobs of every active entry, side by side in cond order."""
    return [j for side, entries in enumerate(conds) if entries for c in entries
            if (j := make_job(c, x, sigma, side)) is not None]


def next_batch(pending: list[Job]) -> list[Job]:
    """Take from `pending` every job that can share a call with the first, in ComfyUI's
    order (the latest compatible first, so the negative side leads)."""
    idxs = [k for k, j in enumerate(pending) if concatenable(j, pending[0])][::-1]
    return [pending.pop(k) for k in idxs]


def model_inputs(batch: list[Job]) -> dict[str, Any]:
    """`apply_model` keyword inputs for a batch: c_crossattn, and y / c_concat /
    crossattn_controlnet (ComfyUI's name for the ControlNet's own tokens) when set."""
    c: dict[str, Any] = {"c_crossattn": cat_cross_attn([j.cross_attn for j in batch])}
    if batch[0].concat is not None:
        c["c_concat"] = torch.cat([j.concat for j in batch])
    if batch[0].y is not None:
        c["y"] = torch.cat([j.y for j in batch])
    if batch[0].cross_attn_controlnet is not None:
        c["crossattn_controlnet"] = cat_cross_attn([j.cross_attn_controlnet for j in batch])
    for key, value in (batch[0].extra or {}).items():
        c[key] = value.concat([j.extra[key] for j in batch[1:]])
    return c
