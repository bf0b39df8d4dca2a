"""LoadImage / LoadImageMask decoding rules (COMPAT 8.4).

Every frame is EXIF-transposed; mode `I` is scaled by 1/255; pixels become RGB float32/255.
The mask is `1 - alpha/255` when the frame has alpha (or palette transparency), else a
`[64, 64]` zero mask. Frames whose size differs from the first are skipped, MPO files keep
only their first frame, and several frames make a batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import threading
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import torch
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from comfy_core.files.atomic import is_partial_name
from comfy_core.files.safe import is_within
from comfy_core.files.image_limits import ImageLimits, check_opened
from comfy_core.images.convert import channel_to_tensor, pil_to_tensor

T = TypeVar("T")
MASK_CHANNELS = ("alpha", "red", "green", "blue")
# Extensions some platforms' mimetypes tables lack.
_EXTRA_IMAGE_EXTENSIONS = frozenset({".webp", ".avif", ".jxl", ".heic", ".heif"})
# PIL's truncated-image tolerance is one process-wide flag; flip it under a lock only for
# the retry so other threads never see it half-set by two retries at once.
_TRUNCATED_LOCK = threading.Lock()


def is_image_name(name: str) -> bool:
    """Whether a file name looks like an image by its extension (mimetype image/*)."""
    guessed, _ = mimetypes.guess_type(name, strict=False)
    if guessed is not None:
        return guessed.split("/")[0] == "image"
    return Path(name).suffix.lower() in _EXTRA_IMAGE_EXTENSIONS


def list_input_files(input_dir: Path, images_only: bool = True) -> list[str]:
    """Sorted names of the plain files directly inside `input_dir` (LoadImage's combo);
    partial writes and links leading out of the folder (which LoadImage refuses) are left
    out."""
    if not input_dir.is_dir():
        return []
    names = [p.name for p in input_dir.iterdir()
             if p.is_file() and not is_partial_name(p.name) and is_within(input_dir, p)]
    if images_only:
        names = [n for n in names if is_image_name(n)]
    return sorted(names)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes: LoadImage's IS_CHANGED value."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tolerant(fn: Callable[..., T], *args: object) -> T:
    """Call a PIL function; on a decoding error retry once accepting truncated files."""
    try:
        return fn(*args)
    except (OSError, UnidentifiedImageError, ValueError):
        with _allow_truncated():
            return fn(*args)


@contextlib.contextmanager
def _allow_truncated() -> Iterator[None]:
    with _TRUNCATED_LOCK:
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _scale_mode_i(frame: Image.Image) -> Image.Image:
    """32-bit integer frames are scaled by 1/255 before conversion, like ComfyUI."""
    return frame.point(lambda v: v * (1 / 255)) if frame.mode == "I" else frame


def _frame_mask(frame: Image.Image) -> torch.Tensor | None:
    """`1 - alpha` of a frame `[H, W]`, or None when the frame is fully opaque by format."""
    if "A" in frame.getbands():
        return 1.0 - channel_to_tensor(frame, "A")
    if frame.mode == "P" and "transparency" in frame.info:
        return 1.0 - channel_to_tensor(frame.convert("RGBA"), "A")
    return None


def _open_limited(path: Path, limits: ImageLimits) -> Image.Image:
    """Open `path` and refuse it (ImageTooLargeError) past `limits`, before decoding."""
    source = tolerant(Image.open, path)
    check_opened(source, limits, path.name)
    return source


def load_image(path: Path, limits: ImageLimits = ImageLimits()
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode an image file -> (IMAGE `[B, H, W, 3]`, MASK `[B, H, W]`), COMPAT 8.4.
    Raises ImageTooLargeError past the pixel or frame limits."""
    source = _open_limited(path, limits)
    images: list[torch.Tensor] = []
    masks: list[torch.Tensor | None] = []
    for raw in ImageSequence.Iterator(source):
        frame = _scale_mode_i(tolerant(ImageOps.exif_transpose, raw))
        pixels = pil_to_tensor(frame)
        if images and pixels.shape[1:3] != images[0].shape[1:3]:
            continue
        images.append(pixels)
        masks.append(_frame_mask(frame))
        if source.format == "MPO":
            break
    if not images:
        raise ValueError(f"image file {path.name!r} has no decodable frames")
    return torch.cat(images, dim=0), _stack_masks(masks, images[0].shape[1:3])


def _stack_masks(masks: list[torch.Tensor | None], size: torch.Size) -> torch.Tensor:
    """Batch per-frame masks; opaque frames get zeros (`[64, 64]` when no frame has alpha)."""
    if all(m is None for m in masks):
        return torch.zeros((len(masks), 64, 64), dtype=torch.float32)
    filled = [m if m is not None else torch.zeros(tuple(size)) for m in masks]
    return torch.stack(filled, dim=0)


def load_mask(path: Path, channel: str, limits: ImageLimits = ImageLimits()) -> torch.Tensor:
    """LoadImageMask: one channel of the first frame as MASK `[1, H, W]`; alpha inverted."""
    if channel not in MASK_CHANNELS:
        raise ValueError(f"channel must be one of {MASK_CHANNELS}, got {channel!r}")
    image = tolerant(ImageOps.exif_transpose, _open_limited(path, limits))
    if image.getbands() != ("R", "G", "B", "A"):
        image = _scale_mode_i(image).convert("RGBA")
    band = channel[0].upper()
    mask = channel_to_tensor(image, band)
    if band == "A":
        mask = 1.0 - mask
    return mask[None]
