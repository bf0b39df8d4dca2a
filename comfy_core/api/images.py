"""Image checks and re-encoding for /view and uploads (PIL; runs off the event loop)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from comfy_core.files.atomic import write_atomic
from comfy_core.files.image_limits import ImageLimits, ImageTooLargeError, check_opened

# Decoded formats we accept on upload, and extensions an uploaded file may carry.
UPLOAD_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "MPO"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif",
                              ".tiff", ".jfif"})
# /view?preview= keeps ComfyUI's full-size re-encode up to this box; larger images (up to
# the pixel limit) are scaled down to fit it, so a preview never costs a full-size encode.
PREVIEW_MAX_SIDE = 4096
# Content types /view may serve inline; everything else is an octet-stream attachment, so
# an uploaded or generated file can never run as HTML, SVG or script in the browser.
INLINE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".webp": "image/webp", ".gif": "image/gif", ".bmp": "image/bmp",
                ".mp4": "video/mp4", ".webm": "video/webm", ".mp3": "audio/mpeg",
                ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg"}


class BadImageError(ValueError):
    """Uploaded bytes are not an image we accept."""


def _open_checked(path: Path, limits: ImageLimits) -> Image.Image:
    """Open `path` for re-encoding, refusing images past the limits before decoding."""
    img = Image.open(path)
    try:
        check_opened(img, limits, path.name)
    except BaseException:
        img.close()
        raise
    return img


def check_image_bytes(data: bytes, limits: ImageLimits) -> str:
    """Return the decoded format of `data` or raise BadImageError saying why not
    (ImageTooLargeError, a subclass, past the pixel or frame limit)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            if fmt not in UPLOAD_FORMATS:
                raise BadImageError(f"image format {fmt or 'unknown'} is not accepted; "
                                    f"expected one of {sorted(UPLOAD_FORMATS)}")
            check_opened(img, limits, "the image")
            img.verify()
    except (BadImageError, ImageTooLargeError):
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"the image is too large to decode: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadImageError(f"file is not a readable image: {exc}") from None
    return fmt


def content_type_for(name: str) -> tuple[str, bool]:
    """(content type, inline?) for serving `name` raw."""
    ext = os.path.splitext(name)[1].lower()
    if ext in INLINE_TYPES:
        return INLINE_TYPES[ext], True
    return "application/octet-stream", False


def preview_bytes(path: Path, fmt_param: str, channel: str | None, limits: ImageLimits
                  ) -> tuple[bytes, str]:
    """Re-encode for `preview=<fmt>[;<quality>]` (webp default, jpeg allowed); images past
    PREVIEW_MAX_SIDE are scaled down to fit (JPEG decodes at reduced size)."""
    fmt, _, quality_raw = fmt_param.partition(";")
    fmt = fmt if fmt in ("webp", "jpeg") else "webp"
    if channel and "a" in channel:
        fmt = "webp"
    quality = int(quality_raw) if quality_raw.isdigit() and len(quality_raw) < 4 else 90
    quality = min(max(quality, 1), 100)
    with _open_checked(path, limits) as img:
        if max(img.size) > PREVIEW_MAX_SIDE:
            img.thumbnail((PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE), Image.Resampling.BILINEAR)
        if fmt == "jpeg" or channel == "rgb":
            img = img.convert("RGB")
        buf = io.BytesIO()
        img.save(buf, format=fmt, quality=quality)
    return buf.getvalue(), f"image/{fmt}"


def channel_bytes(path: Path, channel: str, limits: ImageLimits) -> bytes:
    """`channel=rgb`: PNG without alpha; `channel=a`: PNG whose content is the alpha."""
    with _open_checked(path, limits) as img:
        if channel == "rgb":
            out = img.convert("RGB")
        else:
            alpha = (img.getchannel("A") if img.mode in ("RGBA", "LA", "PA")
                     else img.convert("RGBA").getchannel("A") if "transparency" in img.info
                     else Image.new("L", img.size, 255))
            out = Image.new("RGBA", img.size, (0, 0, 0, 0))
            out.putalpha(alpha)
        buf = io.BytesIO()
        out.save(buf, format="PNG")
    return buf.getvalue()


def merge_mask(original: Path, mask_data: bytes, dest: Path, limits: ImageLimits) -> None:
    """Put the alpha of `mask_data` onto `original` (RGBA), keep its PNG text, save PNG."""
    check_image_bytes(mask_data, limits)
    with _open_checked(original, limits) as orig:
        info = PngImagePlugin.PngInfo()
        for key, value in (getattr(orig, "text", None) or {}).items():
            info.add_text(key, value)
        base = orig.convert("RGBA")
    with Image.open(io.BytesIO(mask_data)) as mask:
        alpha = mask.convert("RGBA").getchannel("A")
    if alpha.size != base.size:
        raise BadImageError(f"mask size {alpha.size} differs from the original's {base.size}")
    base.putalpha(alpha)
    buf = io.BytesIO()
    base.save(buf, format="PNG", compress_level=4, pnginfo=info)
    write_atomic(dest, buf.getvalue())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
