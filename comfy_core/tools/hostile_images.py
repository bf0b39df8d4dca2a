"""Small files that decode into very large images: what the pixel and frame limits refuse.

Used by the tests and by `bench/attack.py`. Each is cheap to build (no full-size pixel
buffer is ever allocated here) and a few KB to a few hundred KB on disk.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def blank_png(width: int, height: int) -> bytes:
    """A valid 8-bit greyscale PNG of `width` x `height` black pixels, streamed through
    zlib row by row (a 12000x12000 one is about 140 KB)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)  # filter byte + pixels
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts))
            + _chunk(b"IEND", b""))


def many_frames_gif(frames: int, side: int = 8) -> bytes:
    """An animated GIF of `frames` distinct `side` x `side` frames."""
    images = [Image.new("P", (side, side), i % 250) for i in range(frames)]
    for image in images:
        image.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
    buf = io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=40,
                   loop=0, optimize=False, disposal=1)
    return buf.getvalue()
