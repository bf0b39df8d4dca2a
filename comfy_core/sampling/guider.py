"""Classifier-free guidance (Ho & Salimans 2022) around a raw UNet callable, with
ComfyUI's batching rules (COMPAT 9.4): all compatible entries of both sides in one
batched call ordered [negative, positive], area/mask/strength weights, σ ranges,
cross-attention length LCM repeat, and no unconditional pass at cfg == 1. Inpainting
UNets get each entry's concat channels (mask + masked latent) appended to their input."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from comfy_core.sampling.conditioning import ResolvedCond
from comfy_core.sampling.model_sampling import SIGMA_BEFORE_START, ModelSampling
from comfy_core.sampling.sampler_base import Guided

# unet(x_in [B,C(+1+C concat),h,w], timestep [B], context [B,T,D], y [B,adm] | None) -> eps or v [B,C,h,w]
UNet = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]

MAX_CROSS_ATTN_REPEAT = 4  # longest/shortest token-length ratio that may share a batch
AREA_FUZZ = 8  # latent pixels of linear feathering at inner area edges


@dataclass(frozen=True)
class _Job:
    """One entry's share of a model call: cropped input, weights and conditioning."""

    x: torch.Tensor  # [B, C, ah, aw]
    mult: torch.Tensor  # [B, C, ah, aw]
    area: tuple[int, int, int, int] | None
    cross_attn: torch.Tensor  # [B, T, D]
    y: torch.Tensor | None  # [B, adm]
    side: int  # 0 = positive, 1 = negative
    concat: torch.Tensor | None = None  # [B, 1 + C, ah, aw]


def _to_batch(t: torch.Tensor, batch: int) -> torch.Tensor:
    if t.shape[0] > batch:
        return t[:batch]
    if t.shape[0] < batch:
        return t.repeat([math.ceil(batch / t.shape[0])] + [1] * (t.ndim - 1))[:batch]
    return t


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


def _job(c: ResolvedCond, x: torch.Tensor, sigma: torch.Tensor, side: int) -> _Job | None:
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
    y = None if c.y is None else _to_batch(c.y, batch).to(x)
    concat = None
    if c.concat is not None:
        concat = _to_batch(c.concat, batch).to(x)
        if area is not None:
            concat = concat[:, :, area[2] : area[2] + area[0], area[3] : area[3] + area[1]]
    return _Job(crop, mult, area, _to_batch(c.cross_attn, batch).to(x), y, side, concat)


def _concatenable(a: _Job, b: _Job) -> bool:
    if a.x.shape != b.x.shape or (a.y is None) != (b.y is None):
        return False
    if a.y is not None and a.y.shape != b.y.shape:
        return False
    if (a.concat is None) != (b.concat is None) or (a.concat is not None and a.concat.shape != b.concat.shape):
        return False
    s1, s2 = a.cross_attn.shape, b.cross_attn.shape
    if s1 != s2:
        if s1[0] != s2[0] or s1[2] != s2[2]:
            return False
        if math.lcm(s1[1], s2[1]) // min(s1[1], s2[1]) > MAX_CROSS_ATTN_REPEAT:
            return False
    return True


def _cat_cross_attn(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate on the batch axis, repeating shorter token sequences up to the LCM length."""
    length = math.lcm(*(t.shape[1] for t in tensors))
    return torch.cat([t.repeat(1, length // t.shape[1], 1) if t.shape[1] < length else t for t in tensors])


class CFGGuider:
    """Denoiser D(x, σ) = uncond + (cond − uncond)·cfg over a raw UNet."""

    def __init__(
        self,
        unet: UNet,
        model_sampling: ModelSampling,
        positive: Sequence[ResolvedCond],
        negative: Sequence[ResolvedCond],
        cfg: float,
    ) -> None:
        self.unet, self.ms = unet, model_sampling
        self.positive, self.negative, self.cfg = list(positive), list(negative), float(cfg)

    def denoise_raw(
        self, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor, y: torch.Tensor | None,
        concat: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One UNet call -> denoised (float32): c_in scaling, integer timestep, eps/v out;
        `concat` [B, 1+C, h, w] is appended after the scaling (it is not noisy)."""
        x_in = self.ms.calculate_input(sigma, x)
        if concat is not None:
            x_in = torch.cat([x_in, concat.to(x_in)], dim=1)  # [B, C + 1 + C, h, w]
        out = self.unet(x_in, self.ms.timestep(sigma), context, y).float()
        return self.ms.calculate_denoised(sigma, out, x)

    def predictions(self, x: torch.Tensor, sigma: torch.Tensor, sides: int) -> list[torch.Tensor]:
        """Weighted-average denoised prediction for each side ([positive] or [pos, neg])."""
        return self.predict([self.positive, self.negative][:sides], x, sigma)

    def predict(self, conds: Sequence[Sequence[ResolvedCond] | None], x: torch.Tensor,
                sigma: torch.Tensor) -> list[torch.Tensor]:
        """The weighted-average prediction of each list of entries, all compatible entries in
        shared UNet calls (ComfyUI's calc_cond_batch); a None or empty list predicts zeros."""
        conds = [c or [] for c in conds]
        outs = [torch.zeros_like(x) for _ in conds]
        counts = [torch.ones_like(x) * 1e-37 for _ in conds]
        pending = [j for side, entries in enumerate(conds) for c in entries if (j := _job(c, x, sigma, side))]
        while pending:
            idxs = [k for k, j in enumerate(pending) if _concatenable(j, pending[0])][::-1]
            batch = [pending.pop(k) for k in idxs]
            y = torch.cat([j.y for j in batch]) if batch[0].y is not None else None
            concat = torch.cat([j.concat for j in batch]) if batch[0].concat is not None else None
            denoised = self.denoise_raw(
                torch.cat([j.x for j in batch]), torch.cat([sigma] * len(batch)),
                _cat_cross_attn([j.cross_attn for j in batch]), y, concat,
            ).chunk(len(batch))
            for j, d in zip(batch, denoised):
                out, cnt = outs[j.side], counts[j.side]
                if j.area is not None:
                    h, w, top, left = j.area
                    out, cnt = out[:, :, top : top + h, left : left + w], cnt[:, :, top : top + h, left : left + w]
                out += d * j.mult
                cnt += j.mult
        return [o / c for o, c in zip(outs, counts)]

    def guided(self, x: torch.Tensor, sigma: torch.Tensor) -> Guided:
        """The CFG result and the unconditional prediction, which is evaluated even at cfg 1:
        samplers that read it (CFG++) ask for it through this method (ComfyUI's
        `disable_cfg1_optimization`)."""
        cond, uncond = self.predictions(x, sigma, sides=2)
        return Guided(uncond + (cond - uncond) * self.cfg, uncond)

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The CFG result; at cfg 1 the negative is not evaluated (COMPAT 9.4)."""
        if math.isclose(self.cfg, 1.0):
            return self.predictions(x, sigma, sides=1)[0]
        cond, uncond = self.predictions(x, sigma, sides=2)
        return uncond + (cond - uncond) * self.cfg
