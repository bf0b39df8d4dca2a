"""Pixel and frame limits for images that users send or the server decodes.

A 140 KB PNG can declare 12000x12000 pixels and a GIF hundreds of frames; decoding them
costs gigabytes. `check_image` reads only the header (size, frame count) and refuses what
exceeds the limits before any pixel is decoded. The limits come from `--max-image-pixels`
(all frames of one image together) and `--max-image-frames`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from PIL import Image

from comfy_core.settings import DEFAULT_MAX_IMAGE_FRAMES, DEFAULT_MAX_IMAGE_PIXELS


class ImageTooLargeError(ValueError):
    """An image exceeds the pixel or frame limit; the message names the flag to raise it."""


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS  # decoded pixels, all frames together
    max_frames: int = DEFAULT_MAX_IMAGE_FRAMES

    @classmethod
    def of(cls, settings: Any) -> ImageLimits:
        """From a `comfy_core.settings.Settings` (the defaults when it is None)."""
        if settings is None:
            return cls()
        return cls(settings.max_image_pixels, settings.max_image_frames)


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    frames: int


def check_image(source: Path | IO[bytes], limits: ImageLimits, name: str) -> ImageInfo:
    """Open `source` lazily and check it against `limits` (raises ImageTooLargeError);
    unreadable files raise what PIL raises (OSError, UnidentifiedImageError...)."""
    try:
        with Image.open(source) as image:
            return check_opened(image, limits, name)
    except Image.DecompressionBombError as exc:  # beyond PIL's own hard limit
        raise ImageTooLargeError(f"{name} is too large to decode: {exc}") from None


def check_opened(image: Image.Image, limits: ImageLimits, name: str) -> ImageInfo:
    """Check an opened (not yet loaded) image against `limits`."""
    width, height = image.size
    pixels = width * height
    if pixels > limits.max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width}x{height} = {pixels:,} pixels; the limit is "
            f"{limits.max_pixels:,} (--max-image-pixels)")
    frames = int(getattr(image, "n_frames", 1) or 1)
    if frames > limits.max_frames:
        raise ImageTooLargeError(f"{name} has {frames} frames; the limit is "
                                 f"{limits.max_frames} (--max-image-frames)")
    if frames * pixels > limits.max_pixels:
        raise ImageTooLargeError(
            f"{name} has {frames} frames of {width}x{height} = {frames * pixels:,} pixels in "
            f"all; the limit is {limits.max_pixels:,} (--max-image-pixels)")
    return ImageInfo(image.format or "", width, height, frames)
