"""LoadImage / LoadImageMask decoding rules (COMPAT 8.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from comfy_core.images.decode import (file_sha256, is_image_name, list_input_files, load_image,
                                      load_mask)


def test_alpha_becomes_inverted_mask(tmp_path):
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = [[0, 255, 51], [255, 255, 255]]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image, mask = load_image(tmp_path / "a.png")
    assert image.shape == (1, 2, 3, 3)
    assert torch.allclose(image[0, 0, 0], torch.tensor([200 / 255, 0, 0]))
    assert torch.allclose(mask[0, 0], torch.tensor([1.0, 0.0, 1 - 51 / 255]))


def test_no_alpha_gives_64x64_zero_mask(tmp_path):
    Image.new("RGB", (5, 4), (1, 2, 3)).save(tmp_path / "a.jpg")
    image, mask = load_image(tmp_path / "a.jpg")
    assert image.shape == (1, 4, 5, 3) and mask.shape == (1, 64, 64)
    assert torch.count_nonzero(mask) == 0


def test_palette_transparency_is_a_mask(tmp_path):
    im = Image.new("P", (2, 1))
    im.putpalette([0, 0, 0, 255, 255, 255])
    im.putdata([0, 1])
    im.save(tmp_path / "p.png", transparency=0)
    _, mask = load_image(tmp_path / "p.png")
    assert mask[0].tolist() == [[1.0, 0.0]]


def test_frames_batch_and_odd_sized_frames_are_skipped(tmp_path):
    frames = [Image.new("RGB", (4, 4), (i * 60, 0, 0)) for i in range(3)]
    frames.insert(1, Image.new("RGB", (2, 2)))
    frames[0].save(tmp_path / "m.tiff", save_all=True, append_images=frames[1:])
    image, mask = load_image(tmp_path / "m.tiff")
    assert image.shape == (3, 4, 4, 3) and mask.shape == (3, 64, 64)
    assert image[:, 0, 0, 0].mul(255).round().tolist() == [0.0, 60.0, 120.0]


def test_mode_i_is_scaled_by_1_over_255(tmp_path):
    Image.fromarray(np.full((2, 2), 255 * 100, dtype=np.int32), "I").save(tmp_path / "i.tiff")
    image, _ = load_image(tmp_path / "i.tiff")
    assert torch.allclose(image, torch.full((1, 2, 2, 3), 100 / 255))


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (4, 2))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    im.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg")[0].shape == (1, 4, 2, 3)


@pytest.mark.parametrize("channel,expected", [("alpha", 1 - 64 / 255), ("red", 10 / 255),
                                              ("green", 20 / 255), ("blue", 30 / 255)])
def test_load_mask_channels(tmp_path, channel, expected):
    Image.new("RGBA", (3, 2), (10, 20, 30, 64)).save(tmp_path / "c.png")
    mask = load_mask(tmp_path / "c.png", channel)
    assert mask.shape == (1, 2, 3) and torch.allclose(mask, torch.full((1, 2, 3), expected))


def test_load_mask_of_rgb_image_alpha_is_zero(tmp_path):
    Image.new("RGB", (2, 2)).save(tmp_path / "c.png")
    assert torch.count_nonzero(load_mask(tmp_path / "c.png", "alpha")) == 0


def test_listing_hashing_and_names(tmp_path):
    (tmp_path / "b.webp").write_bytes(b"x")
    (tmp_path / "a.PNG").write_bytes(b"x")
    (tmp_path / "z.txt").write_bytes(b"abc")
    (tmp_path / "sub").mkdir()
    assert list_input_files(tmp_path) == ["a.PNG", "b.webp"]
    assert list_input_files(tmp_path, images_only=False) == ["a.PNG", "b.webp", "z.txt"]
    assert file_sha256(tmp_path / "z.txt") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert is_image_name("x.jpeg") and not is_image_name("x.safetensors")
