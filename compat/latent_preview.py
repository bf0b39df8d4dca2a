"""`latent_preview`: sampler previews as packs build them (COMPAT-PLUGINS 6.2), over
comfy_core.images.previews (latent2rgb) and our TAESD decoder.

`get_previewer` reads `args.preview_method` when called (packs assign it); a TAESD decoder
is the first safetensors file in models/vae_approx named after the latent format's decoder.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import torch
from PIL import Image

import comfy.utils
import folder_paths
from comfy.cli_args import LatentPreviewMethod
from comfy.taesd.taesd import TAESD
from comfy_core.images import previews
from comfy_core.loading import taesd as taesd_files

log = logging.getLogger(__name__)
__all__ = ["Latent2RGBPreviewer", "LatentPreviewMethod", "LatentPreviewer", "TAESD",
           "TAESDPreviewerImpl", "get_previewer", "prepare_callback", "set_preview_method"]


def __getattr__(name: str) -> Any:
    if name == "MAX_PREVIEW_RESOLUTION":
        from comfy.cli_args import args

        return args.preview_size
    raise AttributeError(f"module 'latent_preview' has no attribute {name!r}")


def preview_to_image(latent_image: torch.Tensor) -> Image.Image:
    """`[H, W, 3]` in -1..1 -> PIL image."""
    return previews.pixels_to_image((latent_image.float() + 1.0) / 2.0)


class LatentPreviewer:
    def decode_latent_to_preview(self, x0: torch.Tensor) -> Image.Image:
        raise NotImplementedError("a previewer renders the latent `x0` [B, C, h, w]")

    def decode_latent_to_preview_image(self, preview_format: str, x0: torch.Tensor) -> tuple:
        from comfy.cli_args import args

        return ("JPEG", self.decode_latent_to_preview(x0), args.preview_size)


class TAESDPreviewerImpl(LatentPreviewer):
    """Previews through a TAESD decoder whose `decode` gives pixels in -1..1 (ComfyUI's
    TAESD) or through our own decoder module."""

    def __init__(self, taesd: Any) -> None:
        self.taesd = taesd

    def decode_latent_to_preview(self, x0: torch.Tensor) -> Image.Image:
        from comfy_core.models.taesd import TAESDDecoder, preview_pixels

        if isinstance(self.taesd, TAESDDecoder):
            return previews.pixels_to_image(preview_pixels(self.taesd, x0))
        return preview_to_image(self.taesd.decode(x0[:1])[0].movedim(0, 2))


class Latent2RGBPreviewer(LatentPreviewer):
    """First item (first frame) through a linear `[C, 3]` map plus bias."""

    def __init__(self, latent_rgb_factors: Any, latent_rgb_factors_bias: Any = None,
                 latent_rgb_factors_reshape: Callable | None = None) -> None:
        factors = tuple(tuple(float(v) for v in row) for row in latent_rgb_factors)
        bias = tuple(float(v) for v in latent_rgb_factors_bias) if latent_rgb_factors_bias else None
        self.rgb = previews.LatentRGB(factors, bias)
        self.reshape = latent_rgb_factors_reshape

    def decode_latent_to_preview(self, x0: torch.Tensor) -> Image.Image:
        if self.reshape is not None:
            x0 = self.reshape(x0)
        if x0.ndim == 5:  # [B, C, T, h, w]: first frame
            x0 = x0[:, :, 0]
        return previews.latent_to_rgb(x0, self.rgb)


def _format_fields(latent_format: Any) -> tuple[Any, Any, str | None]:
    """(rgb factors, bias, TAESD decoder name) of ComfyUI's or our latent format."""
    factors = getattr(latent_format, "latent_rgb_factors", None)
    if factors is None:
        factors = getattr(latent_format, "rgb_factors", None)
    bias = getattr(latent_format, "latent_rgb_factors_bias", None)
    if bias is None:
        bias = getattr(latent_format, "rgb_bias", None)
    name = getattr(latent_format, "taesd_decoder_name", None) or getattr(
        latent_format, "taesd_decoder", None)
    return factors, bias, name


def _method() -> LatentPreviewMethod:
    from comfy.cli_args import args

    method = args.preview_method
    if isinstance(method, str):
        method = LatentPreviewMethod.from_string(method) or LatentPreviewMethod.NoPreviews
    return method


def get_previewer(device: Any, latent_format: Any) -> LatentPreviewer | None:
    method = _method()
    if method == LatentPreviewMethod.NoPreviews:
        return None
    factors, bias, decoder_name = _format_fields(latent_format)
    if method == LatentPreviewMethod.TAESD and decoder_name:
        found = taesd_files.find_decoder(folder_paths.get_filename_list("vae_approx"),
                                         decoder_name)
        if found is not None:
            decoder = taesd_files.load_decoder(folder_paths.get_full_path("vae_approx", found))
            return TAESDPreviewerImpl(decoder)
        log.warning("TAESD previews need models/vae_approx/%s.safetensors; using latent2rgb",
                    decoder_name)
    if factors is None:
        return None
    bias = bias if bias is not None and any(bias) else None
    return Latent2RGBPreviewer(factors, bias,
                               getattr(latent_format, "latent_rgb_factors_reshape", None))


def _latent_format_of(model: Any) -> Any:
    inner = getattr(model, "model", None)
    if inner is not None and getattr(inner, "latent_format", None) is not None:
        return inner.latent_format
    family = getattr(model, "family", None)
    return getattr(family, "latent", None)


def prepare_callback(model: Any, steps: int, x0_output_dict: dict | None = None) -> Callable:
    """Sampler callback `(step, x0, x, total_steps)`: progress (and a preview) for the
    running node; the latest x0 goes into `x0_output_dict["x0"]` when given."""
    latent_format = _latent_format_of(model)
    previewer = get_previewer(None, latent_format) if latent_format is not None else None
    bar = comfy.utils.ProgressBar(steps)

    def callback(step: int, x0: torch.Tensor, x: torch.Tensor, total_steps: int) -> None:
        if x0_output_dict is not None:
            x0_output_dict["x0"] = x0
        preview = None
        if previewer is not None and x0 is not None:
            preview = previewer.decode_latent_to_preview_image("JPEG", x0)
        bar.update_absolute(step + 1, total_steps, preview)

    return callback


def set_preview_method(override: str | None) -> None:
    """Use `override` ("auto", "latent2rgb", "taesd", "none") for later previews; unknown
    or "default" keeps the current method."""
    from comfy.cli_args import args

    method = LatentPreviewMethod.from_string(override) if override else None
    if method is not None:
        args.preview_method = method
