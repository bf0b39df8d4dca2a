"""Latent -> RGB previews sent while sampling (COMPAT 2.5).

Two renderers: TAESD (the tiny decoder, `comfy_core.models.taesd`, chosen by the `taesd`
method when the family's decoder file is installed) and latent2rgb. Latent2RGB maps the
first latent of the batch through a fixed `[C, 3]` matrix (+ bias for SDXL), then `((x + 1) / 2).clamp(0, 1) * 255`. The factors are the published SD1/SDXL
approximations. `Previewer` throttles: it renders at most one image per `min_interval`
seconds (and always the last step), so previews never dominate a fast sampler's time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from PIL import Image

log = logging.getLogger(__name__)

PREVIEW_METHODS = ("none", "auto", "latent2rgb", "taesd")


@dataclass(frozen=True)
class LatentRGB:
    """Linear latent->RGB approximation: `rgb = latent @ factors + bias`."""

    factors: tuple[tuple[float, float, float], ...]  # [C, 3]
    bias: tuple[float, float, float] | None = None

    @classmethod
    def of(cls, latent_format: Any) -> "LatentRGB":
        """From a latent format (`latent_rgb_factors`, `latent_rgb_factors_bias`, as in
        `comfy_core.models.latent_formats`)."""
        bias = tuple(latent_format.latent_rgb_factors_bias or ())
        return cls(tuple(map(tuple, latent_format.latent_rgb_factors)), bias if any(bias) else None)


SD1_RGB = LatentRGB(factors=(
    (0.3512, 0.2297, 0.3227),
    (0.3250, 0.4974, 0.2350),
    (-0.2829, 0.1762, 0.2721),
    (-0.2120, -0.2616, -0.7177),
))
SDXL_RGB = LatentRGB(factors=(
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
), bias=(0.1084, -0.0175, -0.0011))


def latent_rgb_for(family_name: str) -> LatentRGB:
    """The factors for a model family name ("sd1", "sd2", "sdxl", "sdxl_refiner", ...)."""
    return SDXL_RGB if "xl" in family_name.lower() else SD1_RGB


def latent_to_rgb(x0: torch.Tensor, rgb: LatentRGB) -> Image.Image:
    """First latent of `x0` `[B, C, h, w]` -> RGB PIL image of size (w, h)."""
    latent = x0[0].detach().float().cpu().movedim(0, -1)  # [h, w, C]
    factors = torch.tensor(rgb.factors, dtype=torch.float32)  # [C, 3]
    if factors.shape[0] != latent.shape[-1]:
        raise ValueError(f"preview factors are for {factors.shape[0]} latent channels, the "
                         f"latent has {latent.shape[-1]}")
    pixels = latent @ factors  # [h, w, 3]
    if rgb.bias is not None:
        pixels = pixels + torch.tensor(rgb.bias, dtype=torch.float32)
    as_bytes = ((pixels + 1.0) / 2.0).clamp(0, 1).mul(0xFF).to(torch.uint8)
    return Image.fromarray(as_bytes.numpy())


def resolve_method(default_method: str, extra_data: dict | None) -> str:
    """Effective preview method: the prompt's `extra_data.preview_method` overrides the flag."""
    override = (extra_data or {}).get("preview_method")
    method = override if override and override != "default" else default_method
    if method not in PREVIEW_METHODS:
        log.warning("unknown preview method %r; previews disabled", method)
        return "none"
    return "latent2rgb" if method == "auto" else method


def pixels_to_image(pixels: torch.Tensor) -> Image.Image:
    """An RGB image `[H, W, 3]` in 0..1 -> PIL image, truncating to bytes like ComfyUI."""
    return Image.fromarray(pixels.detach().float().cpu().clamp(0, 1).mul(0xFF)
                           .to(torch.uint8).numpy())


Render = Callable[[torch.Tensor], Image.Image]  # x0 [B, C, h, w] -> preview of its first item


def latent2rgb_render(rgb: LatentRGB) -> Render:
    """The latent2rgb preview as a render function."""
    return lambda x0: latent_to_rgb(x0, rgb)


class Previewer:
    """Renders throttled previews of the sampler's x0 for one sampling run; `render` is
    latent2rgb or the TAESD decoder."""

    def __init__(self, render: Render, max_size: int, min_interval: float = 0.1,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.render = render
        self.max_size = max_size
        self.min_interval = min_interval
        self._clock = clock
        self._last: float | None = None

    def maybe_preview(self, x0: torch.Tensor, final: bool = False) -> tuple | None:
        """A ("JPEG", image, max_size) tuple when due (or `final`), else None."""
        now = self._clock()
        if not final and self._last is not None and now - self._last < self.min_interval:
            return None
        self._last = now
        return ("JPEG", self.render(x0), self.max_size)


def progress_callback(job: Any, total_steps: int, previewer: Previewer | None
                      ) -> Callable[..., None]:
    """Sampler callback `(step, x0, x, total)` that reports `step+1` of N to the job.

    `job` is a `runtime.JobContext` or None (then only previews are skipped too). Raising
    `Interrupted` from `job.progress` stops the sampler between steps.
    """
    def callback(step: int, x0: torch.Tensor, x: torch.Tensor | None = None,
                 total: int | None = None) -> None:
        if job is None:
            return
        n = total or total_steps
        preview = None
        if previewer is not None and x0 is not None:
            preview = previewer.maybe_preview(x0, final=step + 1 >= n)
        job.progress(step + 1, n, preview)
    return callback
