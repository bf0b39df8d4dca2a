"""Marker tensors of SDXL single files: top-level keys beside the weights that say how the
model was trained, read the way ComfyUI 0.8.0's SDXL model config reads them (COMPAT 10.1).

They count for the SDXL base architecture only (with its inpainting and InstructPix2Pix
variants; ComfyUI's distilled SSD-1B / Vega / KOALA configs inherit the same rules).
The first rule that matches decides:

1. `edm_mean` and `edm_std` both present (Playground v2.5): EDM preconditioning on a
   continuous σ range 0.002..80 with σ_data 0.5, in Playground's latent space (per-channel
   mean/std, then scale 0.5). The two tensors' values are not read; the latent format's
   constants apply, as in ComfyUI.
2. `edm_vpred.sigma_max` (CosXL-style files; CheckpointSave writes it after
   ModelSamplingContinuousEDM with v_prediction): v-prediction on a continuous EDM σ range
   up to that value, from `edm_vpred.sigma_min` when present (else 0.002), σ_data 1.
3. `v_pred`: v-prediction on the discrete schedule, rescaled to zero terminal SNR when
   `ztsnr` is present too.
4. Otherwise ε-prediction: `ztsnr` alone, `edm_mean` without `edm_std` and
   `edm_vpred.sigma_min` alone change nothing.

What does not count, as in ComfyUI: markers in SD1.x, SD2.x (v-prediction there comes from
the weights) and SDXL refiner files; the safetensors metadata (`modelspec.predict_key` and
the rest are written on save, never read for these families); the markers of a file in the
checkpoint layout loaded as a diffusion model only (UNETLoader keeps only the prefixed UNet
keys). A marker that should hold a number but does not (several values, not finite, not
positive, σ_min ≥ σ_max) is refused with an error naming it, where ComfyUI would fail or
sample with a broken range.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import torch

from comfy_core.models.family import PLAYGROUND_LATENT, PLAYGROUND_SCHEDULE, EDMSchedule, ModelFamily

PLAYGROUND_KEYS = ("edm_mean", "edm_std")
EDM_VPRED_MAX, EDM_VPRED_MIN = "edm_vpred.sigma_max", "edm_vpred.sigma_min"
V_PRED, ZTSNR = "v_pred", "ztsnr"
MARKER_KEYS = (*PLAYGROUND_KEYS, EDM_VPRED_MAX, EDM_VPRED_MIN, V_PRED, ZTSNR)


class MarkerError(ValueError):
    """A marker tensor that should hold a σ value does not hold a usable one."""


def _sigma(markers: Mapping[str, torch.Tensor], key: str) -> float:
    """The one positive finite number stored under `key`."""
    value = markers[key]
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise MarkerError(f"marker '{key}' should hold one number, found {shape}")
    number = float(value.float().item())
    if not math.isfinite(number) or number <= 0.0:
        raise MarkerError(f"marker '{key}' should be a positive σ, found {number}")
    return number


def edm_vpred_schedule(markers: Mapping[str, torch.Tensor]) -> EDMSchedule:
    """The continuous σ range of rule 2 (σ_data 1, σ_min 0.002 unless the file says)."""
    sigma_max = _sigma(markers, EDM_VPRED_MAX)
    sigma_min = _sigma(markers, EDM_VPRED_MIN) if EDM_VPRED_MIN in markers else EDMSchedule.sigma_min
    if sigma_min >= sigma_max:
        raise MarkerError(f"markers '{EDM_VPRED_MIN}' = {sigma_min} and '{EDM_VPRED_MAX}' = {sigma_max}: "
                          "σ_min must be below σ_max")
    return EDMSchedule(sigma_min=sigma_min, sigma_max=sigma_max, sigma_data=1.0)


def apply_sdxl_markers(family: ModelFamily, markers: Mapping[str, torch.Tensor]) -> ModelFamily:
    """`family` (SDXL base architecture, ε-prediction) as the file's markers say it samples."""
    if all(k in markers for k in PLAYGROUND_KEYS):
        return dataclasses.replace(family, prediction="edm", zsnr=False, edm_schedule=PLAYGROUND_SCHEDULE,
                                   latent=PLAYGROUND_LATENT)
    if EDM_VPRED_MAX in markers:
        return dataclasses.replace(family, prediction="v", zsnr=False, edm_schedule=edm_vpred_schedule(markers))
    if V_PRED in markers:
        return dataclasses.replace(family, prediction="v", zsnr=ZTSNR in markers)
    return dataclasses.replace(family, prediction="eps", zsnr=False)
