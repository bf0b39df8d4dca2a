"""Guidance rules that replace or follow classifier-free guidance, as the functions a MODEL
carries in its `model_options` (ComfyUI's sampler_cfg_function / pre-CFG / post-CFG
hooks, COMPAT-PLUGINS 3.10). Each `make_*` returns the hook; the formula it applies is a
plain tensor function beside it, so tests check the formula against the paper.

Units: the guider hands denoised estimates D (x0 space) and the noisy input x in VE units
(x = x0 + σ·ε), so x − D = σ·ε̂ is the noise part.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import torch
import torch.nn.functional as F

from comfy_core.sampling.conditioning import from_comfy, resolve
from comfy_core.sampling.guiders import as_negative, perp_neg
from comfy_core.sampling.model_call import calc_cond_batch
from comfy_core.sampling.predictions import CONST, expand_sigma

Hook = Callable[[dict], Any]


# ---- RescaleCFG (Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are
# Flawed", section 3.4, eqs. 15-16) ---------------------------------------------------


def rescale_noise_cfg(cfg: torch.Tensor, cond: torch.Tensor, multiplier: float) -> torch.Tensor:
    """x_rescaled = x_cfg·std(x_pos)/std(x_cfg), blended φ·x_rescaled + (1−φ)·x_cfg; the std
    over every dimension but the batch."""
    dims = tuple(range(1, cfg.ndim))
    rescaled = cfg * (torch.std(cond, dim=dims, keepdim=True) / torch.std(cfg, dim=dims, keepdim=True))
    return multiplier * rescaled + (1.0 - multiplier) * cfg


def make_rescale_cfg(multiplier: float) -> Hook:
    """A sampler_cfg_function doing the rescale on v-prediction outputs (the paper works in
    v): the VE input and noise parts are turned into v = (x_t·σ − x0)/... of the VP
    process, guided, rescaled, and turned back into the noise part x − D."""

    def rescale_cfg(args: dict) -> torch.Tensor:
        x_ve, cond_s, uncond_s = args["input"], args["cond"], args["uncond"]
        sigma = expand_sigma(args["sigma"], cond_s)
        x_vp = x_ve / (sigma * sigma + 1.0)  # √ᾱ·x_t of the VP process (x_t = √ᾱ·x_ve)
        v_cond = (x_vp - (x_ve - cond_s)) * (sigma**2 + 1.0) ** 0.5 / sigma
        v_uncond = (x_vp - (x_ve - uncond_s)) * (sigma**2 + 1.0) ** 0.5 / sigma
        v_cfg = v_uncond + args["cond_scale"] * (v_cond - v_uncond)
        v_final = rescale_noise_cfg(v_cfg, v_cond, multiplier)
        return x_ve - (x_vp - v_final * sigma / (sigma * sigma + 1.0) ** 0.5)

    return rescale_cfg


# ---- post-CFG rules ----------------------------------------------------------------------


def cfg_zero_star_scale(cond_eps: torch.Tensor, uncond_eps: torch.Tensor) -> torch.Tensor:
    """CFG-Zero* (Fan et al. 2025, eq. 7): s* = ⟨v_c, v_u⟩ / ‖v_u‖² per sample, [B, 1, ...]."""
    c, u = cond_eps.reshape(cond_eps.shape[0], -1), uncond_eps.reshape(uncond_eps.shape[0], -1)
    s = (c * u).sum(dim=1, keepdim=True) / ((u**2).sum(dim=1, keepdim=True) + 1e-8)
    return s.reshape([cond_eps.shape[0]] + [1] * (cond_eps.ndim - 1))


def make_cfg_zero_star() -> Hook:
    """Guidance from the rescaled unconditional s*·u: u·s* + w·(c − u·s*) in noise terms,
    written on the denoised estimates."""

    def cfg_zero_star(args: dict) -> torch.Tensor:
        x, cond, uncond = args["input"], args["cond_denoised"], args["uncond_denoised"]
        alpha = cfg_zero_star_scale(x - cond, x - uncond)
        return args["denoised"] + uncond * (alpha - 1.0) + args["cond_scale"] * uncond * (1.0 - alpha)

    return cfg_zero_star


def make_cfg_norm(strength: float) -> Hook:
    """Limit the per-position channel norm of the guided estimate to the positive's:
    D·min(1, ‖D_pos‖/‖D‖)·strength."""

    def cfg_norm(args: dict) -> torch.Tensor:
        guided, cond = args["denoised"], args["cond_denoised"]
        scale = (torch.norm(cond, dim=1, keepdim=True) / (torch.norm(guided, dim=1, keepdim=True) + 1e-8))
        return guided * scale.clamp(min=0.0, max=1.0) * strength

    return cfg_norm


def mahiro_blend(cfg: torch.Tensor, cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Mahiro: mix the CFG result with the scaled positive, weighted by the cosine
    similarity (over channels, averaged) of the signed square roots of the scaled negative
    and of the mean of the scaled positive and the CFG result."""
    leap, u_leap = cond * scale, uncond * scale
    merge = (leap + cfg) / 2
    signed_root = lambda t: torch.sqrt(t.abs()) * t.sign()  # noqa: E731
    sim = F.cosine_similarity(signed_root(u_leap), signed_root(merge)).mean()
    weight = 2 * (sim + 1)  # in [0, 4]
    return (weight * cfg + (4 - weight) * leap) / 4


def make_mahiro() -> Hook:
    return lambda args: mahiro_blend(args["denoised"], args["cond_denoised"], args["uncond_denoised"],
                                     args["cond_scale"])


def make_epsilon_scaling(scaling_factor: float) -> Hook:
    """Epsilon scaling (Ning et al. 2023, "Elucidating the Exposure Bias in Diffusion
    Models", uniform schedule): ε̂ / λ, i.e. D' = x − (x − D)/λ."""
    factor = scaling_factor if scaling_factor != 0 else 1e-9

    def epsilon_scaling(args: dict) -> torch.Tensor:
        x = args["input"]
        return x - (x - args["denoised"]) / factor

    return epsilon_scaling


def tsr_factor(snr: torch.Tensor, k: float, variance: float) -> torch.Tensor:
    """Temporal Score Rescaling (Xu et al. 2025, eq. 6): r = (SNR·σ²+1)/(SNR·σ²/k+1), k at
    infinite SNR."""
    r = (snr * variance + 1) / (snr * variance / k + 1)
    return torch.where(torch.isposinf(snr), torch.full_like(r, k), r)


def half_log_snr(sigma: torch.Tensor, model_sampling: Any) -> torch.Tensor:
    """½·log SNR at σ: −log σ in VE units, logit(1−σ) for rectified flow."""
    if isinstance(model_sampling, CONST):
        return ((1 - sigma) / sigma).log()
    return -sigma.log()


def make_temporal_score_rescaling(tsr_k: float, tsr_sigma: float) -> Hook:
    """Rescale the score by r: with α = σ·e^{λ} (1 for VE models) the result is
    lerp(x/α, D, r), i.e. the noise part times r."""
    variance = tsr_sigma**2

    def temporal_score_rescaling(args: dict) -> torch.Tensor:
        denoised, x, sigma = args["denoised"], args["input"], args["sigma"][0]
        if tsr_k == 1 or float(sigma) == 0:
            return denoised
        ms = args["model"].current_patcher.get_model_object("model_sampling")
        lam = half_log_snr(sigma, ms)
        snr = (2 * lam).exp()
        if float(snr) == 0:
            return denoised
        return torch.lerp(x / (sigma * lam.exp()), denoised, tsr_factor(snr, tsr_k, variance).to(denoised))

    return temporal_score_rescaling


# ---- pre-CFG rules (they rewrite the [cond, uncond, ...] predictions) ---------------------


def project(v0: torch.Tensor, v1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(parallel, orthogonal) parts of v0 relative to v1, per sample over (C, H, W)."""
    v1 = F.normalize(v1, dim=[-1, -2, -3])
    parallel = (v0 * v1).sum(dim=[-1, -2, -3], keepdim=True) * v1
    return parallel, v0 - parallel


class AdaptiveProjectedGuidance:
    """APG (Sadat et al. 2024, "Eliminating Oversaturation and Artifacts of High Guidance
    Scales in Diffusion Models", Alg. 1): momentum on the guidance difference, its norm
    clamped to r, the part parallel to the positive scaled by η. A pre-CFG hook that
    returns the positive CFG must use to land on the APG result. The momentum restarts
    when σ rises (a new sampling run)."""

    def __init__(self, eta: float, norm_threshold: float, momentum: float) -> None:
        self.eta, self.norm_threshold, self.momentum = eta, norm_threshold, momentum
        self.running: torch.Tensor | None = None
        self.prev_sigma: float | None = None

    def guidance(self, cond: torch.Tensor, uncond: torch.Tensor) -> torch.Tensor:
        diff = cond - uncond
        if self.momentum != 0:
            self.running = diff if self.running is None else self.momentum * self.running + diff
            diff = self.running
        if self.norm_threshold > 0:
            norm = diff.norm(p=2, dim=[-1, -2, -3], keepdim=True)
            diff = diff * torch.minimum(torch.ones_like(norm), self.norm_threshold / norm)
        parallel, orthogonal = project(diff, cond)
        return orthogonal + self.eta * parallel

    def __call__(self, args: dict) -> list:
        out = args["conds_out"]
        if len(out) == 1:
            return out
        sigma = float(args["sigma"][0])
        if self.prev_sigma is not None and sigma > self.prev_sigma:
            self.running = None
        self.prev_sigma = sigma
        cond, uncond = out[0], out[1]
        modified = self.guidance(cond, uncond)
        return [uncond + modified + (cond - uncond) / args["cond_scale"], uncond] + list(out[2:])


def frequency_scale(x: torch.Tensor, scale_low: float, scale_high: float, freq_cutoff: int) -> torch.Tensor:
    """FreSca (Huang et al. 2025): scale the centred-FFT coefficients within `freq_cutoff`
    of the centre by scale_low and the rest by scale_high (computed in float32)."""
    freq = torch.fft.fftshift(torch.fft.fftn(x.float(), dim=(-2, -1)), dim=(-2, -1))
    h, w = freq.shape[-2:]
    mask = torch.full(freq.shape, float(scale_high), device=x.device)
    mask[..., h // 2 - freq_cutoff: h // 2 + freq_cutoff, w // 2 - freq_cutoff: w // 2 + freq_cutoff] = scale_low
    out = torch.fft.ifftn(torch.fft.ifftshift(freq * mask, dim=(-2, -1)), dim=(-2, -1)).real
    return out.to(x.dtype)


def make_fresca(scale_low: float, scale_high: float, freq_cutoff: int) -> Hook:
    def fresca(args: dict) -> list:
        out = args["conds_out"]
        cond, uncond = out[0], out[1]
        return [frequency_scale(cond - uncond, scale_low, scale_high, freq_cutoff) + uncond, uncond] + list(out[2:])

    return fresca


def tangential_damping(cond_score: torch.Tensor, uncond_score: torch.Tensor) -> torch.Tensor:
    """TCFG (Kwon et al. 2025, Alg. 1): project the unconditional score on the first right
    singular vector of the [uncond; cond] score matrix (per sample)."""
    b = cond_score.shape[0]
    u, c = uncond_score.reshape(b, 1, -1).float(), cond_score.reshape(b, 1, -1).float()
    _, _, vh = torch.linalg.svd(torch.cat((u, c), dim=1), full_matrices=False)  # vh [B, 2, N]
    v1 = vh[:, 0:1, :]
    return ((u @ v1.transpose(-2, -1)) * v1).reshape_as(uncond_score).to(uncond_score.dtype)


def make_tcfg() -> Hook:
    def tcfg(args: dict) -> list:
        out, x = args["conds_out"], args["input"]
        if len(out) <= 1 or any(c is None for c in args["conds"][:2]):
            return out
        damped = tangential_damping(x - out[0], x - out[1])
        return [out[0], x - damped] + list(out[2:])

    return tcfg


def make_latent_operation_cfg(operation: Callable[..., torch.Tensor]) -> Hook:
    """Apply a LATENT_OPERATION to the guidance difference (cond − uncond), or to the
    positive alone when there is no negative."""

    def latent_operation_cfg(args: dict) -> list:
        out = list(args["conds_out"])
        if len(out) == 2:
            out[0] = operation(latent=out[0] - out[1]) + out[1]
        else:
            out[0] = operation(latent=out[0])
        return out

    return latent_operation_cfg


class PerpNegCfg:
    """The deprecated PerpNeg node's sampler_cfg_function: Perp-Neg (Armandpour et al. 2023)
    against an extra prediction of an empty prompt, resolved for the running latent."""

    def __init__(self, empty_conditioning: list, neg_scale: float) -> None:
        self.entries = from_comfy(as_negative(empty_conditioning))
        self.neg_scale = neg_scale

    def __call__(self, args: dict) -> torch.Tensor:
        model, x = args["model"], args["input"]
        empty = resolve(self.entries, x.shape, model.model_sampling, model.family.adm, negative=True, device=x.device)
        negative = args.get("input_uncond") or args.get("input_cond") or []
        if negative and negative[0].concat is not None:  # inpainting UNets: the same concat channels
            empty = [dataclasses.replace(e, concat=negative[0].concat) for e in empty]
        (nothing,) = calc_cond_batch(model, [empty], x, args["sigma"], args["model_options"])
        guided = perp_neg(args["cond_denoised"], args["uncond_denoised"], nothing, self.neg_scale, args["cond_scale"])
        return x - guided
