"""Latent2RGB previews and their throttling."""

from __future__ import annotations

import pytest
import torch

from comfy_core.images.previews import (SD1_RGB, SDXL_RGB, Previewer, latent2rgb_render,
                                        latent_rgb_for, latent_to_rgb, progress_callback,
                                        resolve_method)


def test_latent_to_rgb_matches_the_formula_on_the_first_latent():
    x0 = torch.zeros(2, 4, 3, 5)
    x0[0, 0] = 1.0  # only channel 0 of the first latent: rgb = factors[0]
    x0[1] = 9.0  # the second latent must be ignored
    img = latent_to_rgb(x0, SD1_RGB)
    assert img.size == (5, 3) and img.mode == "RGB"
    expected = [int(((v + 1) / 2) * 255) for v in SD1_RGB.factors[0]]
    assert list(img.getpixel((0, 0))) == pytest.approx(expected, abs=1)


def test_sdxl_bias_and_family_lookup():
    img = latent_to_rgb(torch.zeros(1, 4, 1, 1), SDXL_RGB)
    assert list(img.getpixel((0, 0))) == pytest.approx(
        [int((b + 1) / 2 * 255) for b in SDXL_RGB.bias], abs=1)
    assert latent_rgb_for("sdxl") is SDXL_RGB and latent_rgb_for("sd1") is SD1_RGB
    with pytest.raises(ValueError, match="latent channels"):
        latent_to_rgb(torch.zeros(1, 16, 1, 1), SD1_RGB)


def test_method_resolution():
    assert resolve_method("none", None) == "none"
    assert resolve_method("none", {"preview_method": "auto"}) == "latent2rgb"
    assert resolve_method("latent2rgb", {"preview_method": "default"}) == "latent2rgb"
    assert resolve_method("taesd", {}) == "taesd"
    assert resolve_method("bogus", {}) == "none"


class FakeJob:
    def __init__(self):
        self.calls = []

    def progress(self, value, total, preview=None):
        self.calls.append((value, total, preview))


def test_throttled_previews_but_every_step_reported():
    now = [0.0]
    previewer = Previewer(latent2rgb_render(SD1_RGB), 512, min_interval=1.0, clock=lambda: now[0])
    job = FakeJob()
    cb = progress_callback(job, 4, previewer)
    x0 = torch.zeros(1, 4, 2, 2)
    for step in range(4):
        cb(step, x0, None, 4)
        now[0] += 0.4
    assert [c[0] for c in job.calls] == [1, 2, 3, 4]
    with_preview = [c[0] for c in job.calls if c[2] is not None]
    assert with_preview == [1, 4]  # first, then throttled until the final step
    fmt, image, size = job.calls[0][2]
    assert fmt == "JPEG" and size == 512 and image.size == (2, 2)


def test_callback_without_job_or_previewer():
    progress_callback(None, 3, None)(0, torch.zeros(1, 4, 1, 1))
    job = FakeJob()
    progress_callback(job, 3, None)(2, torch.zeros(1, 4, 1, 1))
    assert job.calls == [(3, 3, None)]
