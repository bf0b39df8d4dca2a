"""Pixel and frame limits, checked from the header before any pixel is decoded."""

import io

import pytest
from PIL import Image

from comfy_core.files.image_limits import ImageLimits, ImageTooLargeError, check_image
from comfy_core.settings import parse_settings
from comfy_core.tools.hostile_images import blank_png, many_frames_gif


def test_defaults_refuse_the_amplifiers():
    limits = ImageLimits()
    with pytest.raises(ImageTooLargeError, match=r"12000x12000.*--max-image-pixels"):
        check_image(io.BytesIO(blank_png(12000, 12000)), limits, "big.png")
    with pytest.raises(ImageTooLargeError, match=r"600 frames.*--max-image-frames"):
        check_image(io.BytesIO(many_frames_gif(600)), limits, "anim.gif")


def test_all_frames_count_towards_the_pixel_limit():
    limits = ImageLimits(max_pixels=10 * 8 * 8, max_frames=100)
    check_image(io.BytesIO(many_frames_gif(10)), limits, "ok.gif")
    with pytest.raises(ImageTooLargeError, match="11 frames"):
        check_image(io.BytesIO(many_frames_gif(11)), limits, "over.gif")


def test_normal_images_pass_and_report_their_shape():
    buf = io.BytesIO()
    Image.new("RGB", (640, 480)).save(buf, format="PNG")
    info = check_image(io.BytesIO(buf.getvalue()), ImageLimits(), "ok.png")
    assert (info.width, info.height, info.frames, info.format) == (640, 480, 1, "PNG")


def test_limits_come_from_flags():
    settings = parse_settings(["--max-image-pixels", "1000", "--max-image-frames", "3"], {})
    assert ImageLimits.of(settings) == ImageLimits(max_pixels=1000, max_frames=3)
    default = ImageLimits.of(parse_settings([], {}))
    assert default == ImageLimits() and default.max_pixels >= 8192 * 8192
    with pytest.raises(SystemExit):
        parse_settings(["--max-image-frames", "0"], {})
