"""The GUIDER values beyond plain CFG (ComfyUI's Guider_Basic, DualCFGGuider, PerpNegGuider),
as subclasses of `guider.CFGGuider` that change `set_conds` / `set_cfg` and `predict_noise`,
the way plugins subclass it. Their predictions come from the same batched calls
(`model_call.calc_cond_batch`) and post-CFG hooks (`model_call.cfg_function`) as CFG's.
"""

from __future__ import annotations

import math

import torch

from comfy_core.patching.model_options import cfg1_optimization_disabled, post_cfg_functions
from comfy_core.sampling.guider import CFGGuider
from comfy_core.sampling.model_call import calc_cond_batch, cfg_function


class BasicGuider(CFGGuider):
    """One conditioning, no guidance (ComfyUI's Guider_Basic)."""

    def set_conds(self, positive: list) -> None:  # type: ignore[override]
        self.inner_set_conds({"positive": positive})


def as_negative(conditioning: list) -> list:
    """A copy of the CONDITIONING marked as a negative prompt (SDXL refiners encode it so)."""
    return [[tensor, {**options, "prompt_type": "negative"}] for tensor, options in conditioning]


class DualCFGGuider(CFGGuider):
    """Two prompts and a negative: cond2 guided against the negative with cfg2 and cond1
    added against cond2 with cfg1 ("regular"), or cond1-vs-cond2 guidance nested inside
    the guidance against the negative ("nested")."""

    def set_cfg(self, cfg1: float, cfg2: float, nested: bool = False) -> None:  # type: ignore[override]
        self.cfg1, self.cfg2, self.nested = float(cfg1), float(cfg2), nested

    def set_conds(self, positive: list, middle: list, negative: list) -> None:  # type: ignore[override]
        self.inner_set_conds({"positive": positive, "middle": as_negative(middle), "negative": negative})

    def predict_noise(self, x, timestep, model_options=None, seed=None):  # type: ignore[no-untyped-def]
        options = model_options or {}
        negative, middle, positive = (self.conds.get(k) for k in ("negative", "middle", "positive"))
        model = self.inner_model
        if self.nested:
            out = calc_cond_batch(model, [negative, middle, positive], x, timestep, options)
            text = cfg_function(model, out[2], out[1], self.cfg1, x, timestep, options, cond=positive, uncond=middle)
            return out[0] + self.cfg2 * (text - out[0])
        if not cfg1_optimization_disabled(options) and math.isclose(self.cfg2, 1.0):
            negative = None
            if math.isclose(self.cfg1, 1.0):
                middle = None
        out = calc_cond_batch(model, [negative, middle, positive], x, timestep, options)
        guided = cfg_function(model, out[1], out[0], self.cfg2, x, timestep, options, cond=middle, uncond=negative)
        return guided + (out[2] - out[1]) * self.cfg1


def perp_neg(pos: torch.Tensor, neg: torch.Tensor, empty: torch.Tensor, neg_scale: float, cfg: float) -> torch.Tensor:
    """Perp-Neg (Armandpour et al. 2023): guide along (pos − empty) minus only the part of
    (neg − empty) perpendicular to it, scaled by neg_scale."""
    along, against = pos - empty, neg - empty
    perpendicular = against - (against * along).sum() / torch.norm(along) ** 2 * along
    return empty + cfg * (along - perpendicular * neg_scale)


class PerpNegGuider(CFGGuider):
    """CFG with Perp-Neg's negative, measured from an empty-prompt prediction."""

    def set_conds(self, positive: list, negative: list, empty_negative_prompt: list) -> None:  # type: ignore[override]
        self.inner_set_conds({"positive": positive, "empty_negative_prompt": as_negative(empty_negative_prompt),
                              "negative": negative})

    def set_cfg(self, cfg: float, neg_scale: float = 1.0) -> None:  # type: ignore[override]
        self.cfg, self.neg_scale = float(cfg), float(neg_scale)

    def predict_noise(self, x, timestep, model_options=None, seed=None):  # type: ignore[no-untyped-def]
        options = model_options or {}
        positive, negative, empty = (self.conds.get(k) for k in ("positive", "negative", "empty_negative_prompt"))
        if not cfg1_optimization_disabled(options) and math.isclose(self.neg_scale, 0.0):
            negative = None
            if math.isclose(self.cfg, 1.0):
                empty = None
        pos, neg, nothing = calc_cond_batch(self.inner_model, [positive, negative, empty], x, timestep, options)
        result = perp_neg(pos, neg, nothing, self.neg_scale, self.cfg)
        for fn in post_cfg_functions(options):  # ComfyUI's arguments, plus the empty prompt's
            result = fn({"denoised": result, "cond": positive, "uncond": negative, "cond_scale": self.cfg,
                         "model": self.inner_model, "uncond_denoised": neg, "cond_denoised": pos, "sigma": timestep,
                         "model_options": options, "input": x, "empty_cond": empty, "empty_cond_denoised": nothing})
        return result
